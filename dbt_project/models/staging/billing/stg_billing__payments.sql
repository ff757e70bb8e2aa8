-- One row per payment (latest version of each payment id: statuses and refunded amounts change).
with

source as (
    {{ latest_version(source('billing', 'payments'), ['id']) }}
),

renamed as (
    select
        id as payment_id,
        {{ to_utc_ms('created_at') }} as created_at,
        toDate(created_at) as created_date,
        {{ to_utc_ms('captured_at') }} as captured_at,
        status,
        cast(status = 'succeeded' as Bool) as is_succeeded,
        coalesce(paid, false) as is_paid,
        toDecimal64(coalesce(amount_value, 0), 2) as amount,
        coalesce(amount_currency, 'RUB') as currency,
        toDecimal64(coalesce(income_amount_value, 0), 2) as income_amount,
        toDecimal64(coalesce(refunded_amount_value, 0), 2) as refunded_amount,
        nullIf(metadata_user_id, '') as user_id,
        nullIf(metadata_subscription_id, '') as subscription_id,
        metadata_plan_id as plan_id,
        -- trial (card binding), first, renewal or reactivation, as the merchant tagged the charge.
        metadata_kind as payment_kind,
        payment_method_type,
        nullIf(payment_method_id, '') as payment_method_id,
        nullIf(merchant_customer_id, '') as merchant_customer_id,
        cancellation_party,
        cancellation_reason,
        description,
        -- Staff test payments: kept here, excluded from every metric downstream.
        coalesce(test, false) as is_test,
        _loaded_at
    from source
),

final as (
    select * from renamed
)

select * from final
