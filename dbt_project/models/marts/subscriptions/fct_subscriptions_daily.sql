{{
    config(
        order_by='(plan_id, acquisition_channel, subscription_date)',
        partition_by='toYYYYMM(subscription_date)',
    )
}}

{#-
    Rebuilt on every run: active counts and MRR are running sums over the whole history, so a late
    refund changes every later day. Partitioned by month (dashboards read date ranges), sorted by
    plan and channel, the slices every chart filters on.
-#}

-- One row per day, plan and acquisition channel: subscribers and trials active at the end of the
-- day, the day's movements and MRR. Every day from the slice's first subscription to the as-of day.
with

subscriptions as (
    select * from {{ ref('dim_subscriptions') }}
),

events as (
    select * from {{ ref('fct_subscription_events') }}
),

as_of as (
    select {{ subscriptions_as_of_date() }} as as_of_date
),

-- Changes of state, dated by the day they take effect: a subscription counts as active at the end
-- of day D when its access started before D + 1 00:00 UTC and had not ended by then, so it is added
-- on its start day and removed on the day its access ends.
changes as (
    -- Paid access starts: the first successful paid charge.
    select
        plan_id, acquisition_channel, toDate(paid_started_at) as change_date,
        1 as paid_delta, 0 as trial_delta, monthly_price as mrr_delta,
        toUInt8(first_kind != 'reactivation') as new_subscriptions,
        toUInt8(has_trial) as trial_conversions,
        toUInt8(first_kind = 'reactivation') as reactivations,
        0 as churned_voluntary, 0 as churned_involuntary,
        0 as trials_started, 0 as trials_ended
    from subscriptions
    where paid_started_at is not null

    union all
    -- Paid access ends.
    select
        plan_id, acquisition_channel, assumeNotNull(ended_date),
        -1, 0, -monthly_price,
        0, 0, 0,
        toUInt8(ifNull(churn_type, '') = 'voluntary'), toUInt8(ifNull(churn_type, '') = 'involuntary'),
        0, 0
    from subscriptions
    where paid_started_at is not null and ended_at is not null

    union all
    -- Trials start with the successful card binding.
    select
        plan_id, acquisition_channel, toDate(trial_started_at),
        0, 1, toDecimal64(0, 2),
        0, 0, 0,
        0, 0,
        1, 0
    from subscriptions
    where trial_started_at is not null

    union all
    -- Trials end by converting (counted above) or by ending unconverted.
    select
        plan_id, acquisition_channel, toDate(coalesce(paid_started_at, ended_at)),
        0, -1, toDecimal64(0, 2),
        0, 0, 0,
        0, 0,
        0, toUInt8(paid_started_at is null)
    from subscriptions
    where trial_started_at is not null and coalesce(paid_started_at, ended_at) is not null
),

change_days as (
    select
        plan_id,
        acquisition_channel,
        change_date,
        sum(paid_delta) as paid_delta,
        sum(trial_delta) as trial_delta,
        sum(mrr_delta) as mrr_delta,
        sum(new_subscriptions) as new_subscriptions,
        sum(trial_conversions) as trial_conversions,
        sum(reactivations) as reactivations,
        sum(churned_voluntary) as churned_voluntary,
        sum(churned_involuntary) as churned_involuntary,
        sum(trials_started) as trials_started,
        sum(trials_ended) as trials_ended
    from changes
    group by plan_id, acquisition_channel, change_date
),

event_days as (
    select
        plan_id,
        acquisition_channel,
        event_date,
        countIf(is_renewal) as renewals,
        countIf(event_type = 'payment_failed') as payments_failed,
        countIf(event_type = 'cancelled') as cancellations,
        countIf(event_type = 'checkout_failed') as checkouts_failed,
        sum(revenue) as net_revenue
    from events
    group by plan_id, acquisition_channel, event_date
),

-- Every day from each slice's first subscription to the as-of day.
slices as (
    select
        plan_id,
        acquisition_channel,
        assumeNotNull(min(toDate(started_at))) as first_date
    from subscriptions
    group by plan_id, acquisition_channel
),

days as (
    select
        plan_id,
        acquisition_channel,
        addDays(first_date, offset) as subscription_date
    from slices
    cross join as_of
    array join range(toUInt32(greatest(dateDiff('day', first_date, as_of_date) + 1, 0))) as offset
),

final as (
    select
        days.subscription_date as subscription_date,
        days.plan_id as plan_id,
        days.acquisition_channel as acquisition_channel,
        toUInt64(sum(change_days.paid_delta) over running) as active_subscribers,
        toUInt64(sum(change_days.trial_delta) over running) as active_trials,
        toUInt64(change_days.new_subscriptions) as new_subscriptions,
        toUInt64(change_days.trial_conversions) as trial_conversions,
        toUInt64(change_days.reactivations) as reactivations,
        toUInt64(event_days.renewals) as renewals,
        toUInt64(change_days.churned_voluntary) as churned_voluntary,
        toUInt64(change_days.churned_involuntary) as churned_involuntary,
        toUInt64(change_days.trials_started) as trials_started,
        toUInt64(change_days.trials_ended) as trials_ended,
        toUInt64(event_days.cancellations) as cancellations,
        toUInt64(event_days.payments_failed) as payments_failed,
        toUInt64(event_days.checkouts_failed) as checkouts_failed,
        cast(sum(change_days.mrr_delta) over running as Decimal(18, 2)) as mrr,
        cast(event_days.net_revenue as Decimal(18, 2)) as net_revenue
    from days
    -- Days without changes find no match and take the defaults, zero.
    left join change_days
        on days.plan_id = change_days.plan_id
        and days.acquisition_channel = change_days.acquisition_channel
        and days.subscription_date = change_days.change_date
    left join event_days
        on days.plan_id = event_days.plan_id
        and days.acquisition_channel = event_days.acquisition_channel
        and days.subscription_date = event_days.event_date
    window running as (
        partition by days.plan_id, days.acquisition_channel
        order by days.subscription_date
        rows between unbounded preceding and current row
    )
)

select * from final
