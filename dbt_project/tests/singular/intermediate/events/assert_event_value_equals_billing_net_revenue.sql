-- Summed over billing touches, `value` is net revenue: successful customer charges (test
-- payments excluded) minus successful refunds of them. Returns a row when they differ.
with

payments as (
    select * from {{ ref('stg_billing__payments') }}
),

refunds as (
    select * from {{ ref('stg_billing__refunds') }}
),

billing as (
    select
        sumIf(amount, is_succeeded and not is_test and user_id is not null) as charged
    from payments
),

refunded as (
    select sum(refunds.amount) as refunded
    from refunds
    inner join payments on refunds.payment_id = payments.payment_id
    where refunds.is_succeeded and not payments.is_test and payments.user_id is not null
),

touches as (
    select sum(value) as value_total
    from {{ ref('int_events') }}
    where source = 'billing'
),

final as (
    select
        billing.charged - refunded.refunded as net_revenue,
        touches.value_total as value_total
    from billing
    cross join refunded
    cross join touches
)

select * from final where net_revenue != value_total
