-- Summed over people, lifetime net revenue is the billing net revenue: successful customer
-- charges (staff test payments excluded) minus successful refunds of them. Returns a row when
-- they differ.
with

payments as (
    select * from {{ ref('stg_billing__payments') }}
),

refunds as (
    select * from {{ ref('stg_billing__refunds') }}
),

charged as (
    select sumIf(amount, is_succeeded and not is_test and user_id is not null) as charged from payments
),

refunded as (
    select sum(refunds.amount) as refunded
    from refunds
    inner join payments on refunds.payment_id = payments.payment_id
    where refunds.is_succeeded and not payments.is_test and payments.user_id is not null
),

users as (
    select sum(lifetime_net_revenue) as lifetime_total from {{ ref('dim_users') }}
),

final as (
    select
        charged.charged - refunded.refunded as net_revenue,
        users.lifetime_total as lifetime_total
    from charged
    cross join refunded
    cross join users
)

select * from final where net_revenue != lifetime_total
