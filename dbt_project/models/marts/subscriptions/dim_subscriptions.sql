{{
    config(
        order_by='(plan_id, subscription_id)',
    )
}}

{#-
    A table rebuilt on every run: billing is small next to the event stream, and a late refund or a
    retried charge changes a subscription's whole history. Sorted by plan first, the low-cardinality
    key every subscription report groups by.
-#}

-- One row per customer subscription (staff test subscriptions left out).
with

subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

payments as (
    select * from {{ ref('stg_billing__payments') }}
),

refunds as (
    select * from {{ ref('stg_billing__refunds') }}
),

-- The billing customer reference resolves to a person exactly as int_events resolves billing touches.
customer_persons as (
    select
        id_value as user_id,
        person_id
    from {{ ref('int_identity__ids') }}
    where id_type = 'billing_customer_id'
),

persons as (
    select
        person_id,
        acquisition_channel
    from {{ ref('int_persons') }}
),

test_subscriptions as (
    select distinct subscription_id
    from payments
    where is_test and subscription_id is not null
),

-- Customer charges, successful or declined; pending payments have no outcome yet.
charges as (
    select
        payment_id,
        subscription_id,
        plan_id,
        created_at,
        payment_kind,
        is_succeeded,
        amount
    from payments
    where not is_test
        and subscription_id is not null
        and status in ('succeeded', 'canceled')
),

charge_summary as (
    select
        subscription_id,
        argMin(payment_kind, (created_at, payment_id)) as first_kind,
        minIf(toNullable(created_at), is_succeeded and payment_kind = 'trial') as trial_started_at,
        minIf(toNullable(created_at), is_succeeded and payment_kind != 'trial') as paid_started_at,
        argMaxIf(toNullable(amount), (created_at, payment_id), is_succeeded and payment_kind != 'trial')
            as last_paid_amount,
        countIf(is_succeeded) as payments_succeeded,
        countIf(not is_succeeded) as payments_failed,
        sumIf(amount, is_succeeded) as gross_revenue
    from charges
    group by subscription_id
),

refund_summary as (
    select
        charges.subscription_id as subscription_id,
        sum(refunds.amount) as refunded
    from refunds
    inner join charges on refunds.payment_id = charges.payment_id
    where refunds.is_succeeded
    group by charges.subscription_id
),

-- A plan's price is what its latest paid charge cost; its billing period is its longest observed
-- period (trial periods are shorter than paid ones), 30 days when none was seen.
plan_prices as (
    select
        plan_id,
        argMax(amount, (created_at, payment_id)) as plan_price
    from charges
    where is_succeeded and payment_kind != 'trial'
    group by plan_id
),

plan_periods as (
    select
        plan_id,
        max(dateDiff('day', current_period_start_at, current_period_end_at)) as period_days
    from subscriptions
    where current_period_start_at is not null and current_period_end_at is not null
    group by plan_id
),

joined as (
    select
        subscriptions.subscription_id as subscription_id,
        coalesce(customer_persons.person_id, concat('u', subscriptions.user_id)) as person_id,
        subscriptions.user_id as user_id,
        subscriptions.plan_id as plan_id,
        ifNull(persons.acquisition_channel, 'unknown') as acquisition_channel,
        subscriptions.status as status,
        ifNull(charge_summary.first_kind, 'first') as first_kind,
        subscriptions.started_at as started_at,
        charge_summary.trial_started_at as trial_started_at,
        subscriptions.trial_end_at as trial_end_at,
        charge_summary.paid_started_at as paid_started_at,
        subscriptions.cancelled_at as cancelled_at,
        subscriptions.cancel_reason as cancel_reason,
        subscriptions.ended_at as ended_at,
        coalesce(charge_summary.last_paid_amount, plan_prices.plan_price) as price,
        {{ subscription_period_months('ifNull(plan_periods.period_days, 30)') }} as period_months,
        charge_summary.payments_succeeded as payments_succeeded,
        charge_summary.payments_failed as payments_failed,
        charge_summary.gross_revenue as gross_revenue,
        refund_summary.refunded as refunded
    from subscriptions
    left join charge_summary on subscriptions.subscription_id = charge_summary.subscription_id
    left join refund_summary on subscriptions.subscription_id = refund_summary.subscription_id
    left join plan_prices on subscriptions.plan_id = plan_prices.plan_id
    left join plan_periods on subscriptions.plan_id = plan_periods.plan_id
    left join customer_persons on subscriptions.user_id = customer_persons.user_id
    left join persons on customer_persons.person_id = persons.person_id
    where subscriptions.subscription_id not in (select subscription_id from test_subscriptions)
    -- Unmatched left-join columns are NULL (no plan price yet, no refunds), not type defaults.
    settings join_use_nulls = 1
),

final as (
    select
        subscription_id,
        assumeNotNull(person_id) as person_id,
        assumeNotNull(user_id) as user_id,
        cast(plan_id as LowCardinality(String)) as plan_id,
        cast(acquisition_channel as LowCardinality(String)) as acquisition_channel,
        cast(status as LowCardinality(String)) as status,
        cast(first_kind as LowCardinality(String)) as first_kind,
        started_at,
        trial_started_at,
        trial_end_at,
        paid_started_at,
        cancelled_at,
        cancel_reason,
        ended_at,
        toDate(ended_at) as ended_date,
        cast(trial_started_at is not null as Bool) as has_trial,
        -- NULL while undecided: still in the trial, or its first charge still being retried.
        cast(multiIf(
            trial_started_at is null, null,
            paid_started_at is not null, true,
            status in ('cancelled', 'expired'), false,
            null
        ) as Nullable(Bool)) as is_converted,
        cast(multiIf(
            status = 'expired' and trial_started_at is null and paid_started_at is null, 'checkout_failed',
            status = 'expired', 'involuntary',
            status = 'cancelled', 'voluntary',
            null
        ) as LowCardinality(Nullable(String))) as churn_type,
        cast(ended_at is not null as Bool) as is_churned,
        cast(price as Nullable(Decimal(18, 2))) as price,
        period_months,
        {{ subscription_monthly_price('ifNull(price, 0)', 'period_months') }} as monthly_price,
        toUInt32(ifNull(payments_succeeded, 0)) as payments_succeeded,
        toUInt32(ifNull(payments_failed, 0)) as payments_failed,
        cast(ifNull(gross_revenue, 0) as Decimal(18, 2)) as gross_revenue,
        cast(ifNull(refunded, 0) as Decimal(18, 2)) as refunded,
        cast(ifNull(gross_revenue, 0) - ifNull(refunded, 0) as Decimal(18, 2)) as net_revenue
    from joined
)

select * from final
