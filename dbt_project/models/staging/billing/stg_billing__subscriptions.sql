-- One row per subscription: its latest state in the merchant's subscription service.
with

source as (
    {{ latest_version(source('billing', 'subscriptions'), ['subscription_id'], ['updated_at']) }}
),

renamed as (
    select
        subscription_id,
        toString(user_id) as user_id,
        plan_id,
        status,
        {{ to_utc_ms('started_at') }} as started_at,
        {{ to_utc_ms('trial_end_at') }} as trial_end_at,
        {{ to_utc_ms('current_period_start') }} as current_period_start_at,
        {{ to_utc_ms('current_period_end') }} as current_period_end_at,
        {{ to_utc_ms('cancelled_at') }} as cancelled_at,
        cancel_reason,
        {{ to_utc_ms('ended_at') }} as ended_at,
        nullIf(payment_method_id, '') as payment_method_id,
        {{ to_utc_ms('created_at') }} as created_at,
        {{ to_utc_ms('updated_at') }} as updated_at,
        _loaded_at
    from source
),

final as (
    select * from renamed
)

select * from final
