-- A payment is never refunded more than it charged.
with

payments as (
    select * from {{ ref('stg_billing__payments') }}
),

refunds as (
    select * from {{ ref('stg_billing__refunds') }}
),

refunded as (
    select
        payment_id,
        sum(amount) as refunded_amount
    from refunds
    where is_succeeded
    group by payment_id
),

final as (
    select
        payments.payment_id,
        payments.amount,
        refunded.refunded_amount
    from refunded
    inner join payments on refunded.payment_id = payments.payment_id
    where refunded.refunded_amount > payments.amount
)

select * from final
