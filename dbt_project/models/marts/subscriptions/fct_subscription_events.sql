{{
    config(
        order_by='(event_date, plan_id, event_type, subscription_id, event_id)',
    )
}}

{#-
    A table rebuilt on every run from billing's current state (payments, refunds, subscription
    snapshots), small next to the event stream. Day reports read it by date, then plan.
-#}

-- One row per subscription event: billing's charges, refunds, cancellations and ends, named in the
-- simulator's vocabulary (trial_started, subscribed, reactivated, converted, renewed,
-- payment_failed, recovered, cancelled, access_ended, expired, refunded, checkout_failed).
with

subscriptions as (
    select * from {{ ref('dim_subscriptions') }}
),

payments as (
    select * from {{ ref('stg_billing__payments') }}
),

refunds as (
    select * from {{ ref('stg_billing__refunds') }}
),

-- Customer charges of the subscriptions above, in order within each subscription.
charges as (
    select
        payment_id,
        assumeNotNull(subscription_id) as subscription_id,
        created_at,
        ifNull(payment_kind, '') as payment_kind,
        is_succeeded,
        amount,
        cancellation_reason,
        sum(toUInt32(is_succeeded)) over before as successes_before,
        sum(toUInt32(is_succeeded and payment_kind != 'trial')) over before as paid_before,
        lagInFrame(is_succeeded, 1, true) over in_order as previous_succeeded,
        sum(toUInt32(is_succeeded)) over whole as successes_total,
        row_number() over from_last as rank_from_last
    from payments
    where not is_test
        and status in ('succeeded', 'canceled')
        and subscription_id in (select subscription_id from subscriptions)
    window
        in_order as (
            partition by subscription_id order by created_at, payment_id
            rows between unbounded preceding and current row
        ),
        before as (
            partition by subscription_id order by created_at, payment_id
            rows between unbounded preceding and 1 preceding
        ),
        whole as (partition by subscription_id),
        from_last as (partition by subscription_id order by created_at desc, payment_id desc)
),

-- A declined attempt before a subscription's first success is a checkout retry: no event unless
-- no attempt ever succeeded, then the last one is the failed checkout. A success right after a
-- decline is a recovery; the first paid charge after a trial converts it.
charge_events as (
    select
        concat('payment:', payment_id) as event_id,
        subscription_id,
        created_at as event_at,
        multiIf(
            is_succeeded and payment_kind = 'trial', 'trial_started',
            is_succeeded and successes_before = 0,
                if(payment_kind = 'reactivation', 'reactivated', 'subscribed'),
            is_succeeded and not previous_succeeded, 'recovered',
            is_succeeded and paid_before = 0, 'converted',
            is_succeeded, 'renewed',
            successes_before > 0, 'payment_failed',
            successes_total = 0 and rank_from_last = 1, 'checkout_failed',
            ''
        ) as event_type,
        payment_id,
        cast(amount as Nullable(Decimal(18, 2))) as amount,
        if(is_succeeded, amount, toDecimal64(0, 2)) as revenue,
        if(is_succeeded, null, cancellation_reason) as reason,
        is_succeeded and payment_kind != 'trial' and paid_before = 0 and successes_before > 0
            as is_trial_conversion,
        is_succeeded and payment_kind != 'trial' and paid_before > 0 as is_renewal
    from charges
),

refund_events as (
    select
        concat('refund:', refunds.refund_id) as event_id,
        charges.subscription_id as subscription_id,
        refunds.created_at as event_at,
        'refunded' as event_type,
        refunds.payment_id as payment_id,
        cast(refunds.amount as Nullable(Decimal(18, 2))) as amount,
        -refunds.amount as revenue,
        if(refunds.amount >= charges.amount, 'full', 'partial') as reason,
        false as is_trial_conversion,
        false as is_renewal
    from refunds
    inner join charges on refunds.payment_id = charges.payment_id
    where refunds.is_succeeded
),

-- Exhausted payment retries expire a subscription without a cancellation by the subscriber.
cancellation_events as (
    select
        concat('cancellation:', subscription_id) as event_id,
        subscription_id,
        assumeNotNull(cancelled_at) as event_at,
        'cancelled' as event_type,
        cast(null as Nullable(String)) as payment_id,
        cast(null as Nullable(Decimal(18, 2))) as amount,
        toDecimal64(0, 2) as revenue,
        cancel_reason as reason,
        false as is_trial_conversion,
        false as is_renewal
    from subscriptions
    where cancelled_at is not null and ifNull(cancel_reason, '') != 'payment_failed'
),

-- Access ends: a cancelled subscription at the end of its paid (or trial) period or at a full
-- refund, a past-due one when its retries run out. Failed checkouts already have their event.
end_events as (
    select
        concat('end:', subscription_id) as event_id,
        subscription_id,
        assumeNotNull(ended_at) as event_at,
        if(churn_type = 'involuntary', 'expired', 'access_ended') as event_type,
        cast(null as Nullable(String)) as payment_id,
        cast(null as Nullable(Decimal(18, 2))) as amount,
        toDecimal64(0, 2) as revenue,
        if(churn_type = 'involuntary', 'payment_failed', null) as reason,
        false as is_trial_conversion,
        false as is_renewal
    from subscriptions
    where ended_at is not null and churn_type in ('voluntary', 'involuntary')
),

all_events as (
    select * from charge_events where event_type != ''
    union all select * from refund_events
    union all select * from cancellation_events
    union all select * from end_events
),

final as (
    select
        assumeNotNull(all_events.event_id) as event_id,
        subscriptions.subscription_id as subscription_id,
        subscriptions.person_id as person_id,
        subscriptions.user_id as user_id,
        all_events.event_at as event_at,
        toDate(all_events.event_at) as event_date,
        cast(all_events.event_type as LowCardinality(String)) as event_type,
        subscriptions.plan_id as plan_id,
        subscriptions.acquisition_channel as acquisition_channel,
        subscriptions.first_kind as first_kind,
        subscriptions.price as price,
        subscriptions.monthly_price as monthly_price,
        all_events.amount as amount,
        cast(all_events.revenue as Decimal(18, 2)) as revenue,
        all_events.payment_id as payment_id,
        all_events.reason as reason,
        cast(
            if(all_events.event_type in ('access_ended', 'expired', 'checkout_failed'),
                subscriptions.churn_type, null)
            as LowCardinality(Nullable(String))
        ) as churn_type,
        cast(all_events.event_type in ('access_ended', 'expired', 'checkout_failed') as Bool) as is_churn,
        cast(all_events.is_trial_conversion as Bool) as is_trial_conversion,
        cast(all_events.is_renewal as Bool) as is_renewal
    from all_events
    inner join subscriptions on all_events.subscription_id = subscriptions.subscription_id
)

select * from final
