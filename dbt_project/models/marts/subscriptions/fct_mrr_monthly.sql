{{
    config(
        order_by='(plan_id, month_start)',
    )
}}

{#-
    Rebuilt on every run (a few rows per month); sorted by plan, then month, the order the MRR
    bridge is read in.
-#}

-- One row per calendar month and plan, plus plan 'all': the MRR bridge (opening + movements =
-- closing, closing = next month's opening), subscriber counts and monthly rates.
with

subscriptions as (
    select * from {{ ref('dim_subscriptions') }}
),

daily as (
    select * from {{ ref('fct_subscriptions_daily') }}
),

as_of as (
    select {{ subscriptions_as_of_date() }} as as_of_date
),

-- Calendar months from the first subscription to the as-of day; a month closes at the end of its
-- last day, the current month at the end of the as-of day.
months as (
    select
        addMonths(first_month, offset) as month_start,
        least(toLastDayOfMonth(month_start), as_of_date) as close_date
    from (
        select assumeNotNull(toStartOfMonth(min(toDate(started_at)))) as first_month
        from subscriptions
    ) as bounds
    cross join as_of
    array join range(toUInt32(greatest(dateDiff('month', first_month, toStartOfMonth(as_of_date)) + 1, 0)))
        as offset
),

-- Each paid subscription under its own plan and under 'all'. The unit whose MRR moves is the
-- person on that plan (plan rows) or the person (the 'all' row, where a switch of plan is an
-- expansion or a contraction rather than a churn plus a new subscription).
paid as (
    select
        person_id,
        unit_plan,
        toDate(paid_started_at) as start_date,
        ended_date,
        monthly_price
    from subscriptions
    array join [toString(plan_id), 'all'] as unit_plan
    where paid_started_at is not null
),

units as (
    select
        unit_plan,
        person_id,
        min(toStartOfMonth(start_date)) as first_paid_month
    from paid
    group by unit_plan, person_id
),

-- A unit's MRR at a month's close: the monthly prices of its subscriptions active at the end of
-- the close day (the same rule as fct_subscriptions_daily).
closing as (
    select
        paid.unit_plan as unit_plan,
        paid.person_id as person_id,
        months.month_start as month_start,
        sum(paid.monthly_price) as closing_mrr
    from paid
    cross join months
    where paid.start_date <= months.close_date
        and (paid.ended_date is null or paid.ended_date > months.close_date)
    group by unit_plan, person_id, month_start
),

unit_months as (
    select
        units.unit_plan as unit_plan,
        units.person_id as person_id,
        months.month_start as month_start,
        units.first_paid_month as first_paid_month,
        -- Months without a match take the default: no MRR at that close.
        ifNull(closing.closing_mrr, 0) as unit_closing,
        lagInFrame(unit_closing, 1, toDecimal128(0, 2)) over (
            partition by units.unit_plan, units.person_id
            order by months.month_start
            rows between unbounded preceding and current row
        ) as unit_opening
    from units
    cross join months
    left join closing
        on units.unit_plan = closing.unit_plan
        and units.person_id = closing.person_id
        and months.month_start = closing.month_start
    where months.month_start >= units.first_paid_month
),

movements as (
    select
        unit_plan as plan_id,
        month_start,
        sum(unit_opening) as opening_mrr,
        sumIf(unit_closing, unit_opening = 0 and unit_closing > 0 and first_paid_month = month_start)
            as new_mrr,
        sumIf(unit_closing - unit_opening, unit_opening > 0 and unit_closing > unit_opening) as expansion_mrr,
        sumIf(unit_closing - unit_opening, unit_closing > 0 and unit_closing < unit_opening)
            as contraction_mrr,
        sumIf(-unit_opening, unit_opening > 0 and unit_closing = 0) as churn_mrr,
        sumIf(unit_closing, unit_opening = 0 and unit_closing > 0 and first_paid_month < month_start)
            as reactivation_mrr,
        sum(unit_closing) as closing_mrr,
        countIf(unit_opening > 0) as opening_customers,
        countIf(unit_closing > 0) as closing_customers
    from unit_months
    group by plan_id, month_start
),

-- Subscription counts from the daily mart: active at the month's close and at the previous close.
daily_units as (
    select
        unit_plan as plan_id,
        toStartOfMonth(subscription_date) as month_start,
        subscription_date,
        active_subscribers,
        new_subscriptions,
        trial_conversions,
        reactivations,
        renewals,
        churned_voluntary,
        churned_involuntary
    from daily
    array join [toString(plan_id), 'all'] as unit_plan
),

counts as (
    select
        daily_units.plan_id as plan_id,
        daily_units.month_start as month_start,
        sumIf(active_subscribers, subscription_date = months.close_date) as closing_subscribers,
        sum(new_subscriptions) as new_subscriptions,
        sum(reactivations) as reactivations,
        sum(renewals) as renewals,
        sum(churned_voluntary) as churned_voluntary,
        sum(churned_involuntary) as churned_involuntary
    from daily_units
    inner join months on daily_units.month_start = months.month_start
    group by plan_id, month_start
),

-- Trials by the month they started: how many converted, and how many are decided by now.
trials as (
    select
        unit_plan as plan_id,
        toStartOfMonth(toDate(trial_started_at)) as month_start,
        count() as trials_started,
        countIf(is_converted) as trials_converted,
        countIf(is_converted is not null) as trials_decided
    from subscriptions
    array join [toString(plan_id), 'all'] as unit_plan
    where trial_started_at is not null
    group by plan_id, month_start
),

plans as (
    select distinct unit_plan as plan_id
    from subscriptions
    array join [toString(plan_id), 'all'] as unit_plan
),

grid as (
    select
        plans.plan_id as plan_id,
        months.month_start as month_start,
        months.close_date as close_date
    from plans
    cross join months
),

joined as (
    select
        grid.month_start as month_start,
        grid.close_date as close_date,
        grid.plan_id as plan_id,
        movements.opening_mrr as opening_mrr,
        movements.new_mrr as new_mrr,
        movements.expansion_mrr as expansion_mrr,
        movements.contraction_mrr as contraction_mrr,
        movements.churn_mrr as churn_mrr,
        movements.reactivation_mrr as reactivation_mrr,
        movements.closing_mrr as closing_mrr,
        movements.opening_customers as opening_customers,
        movements.closing_customers as closing_customers,
        lagInFrame(counts.closing_subscribers, 1, 0) over by_plan as opening_subscribers,
        counts.closing_subscribers as closing_subscribers,
        counts.new_subscriptions as new_subscriptions,
        counts.reactivations as reactivations,
        counts.renewals as renewals,
        counts.churned_voluntary as churned_voluntary,
        counts.churned_involuntary as churned_involuntary,
        trials.trials_started as trials_started,
        trials.trials_converted as trials_converted,
        trials.trials_decided as trials_decided
    from grid
    left join movements on grid.plan_id = movements.plan_id and grid.month_start = movements.month_start
    left join counts on grid.plan_id = counts.plan_id and grid.month_start = counts.month_start
    left join trials on grid.plan_id = trials.plan_id and grid.month_start = trials.month_start
    window by_plan as (
        partition by grid.plan_id order by grid.month_start
        rows between unbounded preceding and current row
    )
),

final as (
    select
        month_start,
        close_date,
        cast(plan_id as LowCardinality(String)) as plan_id,
        cast(opening_mrr as Decimal(18, 2)) as opening_mrr,
        cast(new_mrr as Decimal(18, 2)) as new_mrr,
        cast(expansion_mrr as Decimal(18, 2)) as expansion_mrr,
        cast(contraction_mrr as Decimal(18, 2)) as contraction_mrr,
        cast(churn_mrr as Decimal(18, 2)) as churn_mrr,
        cast(reactivation_mrr as Decimal(18, 2)) as reactivation_mrr,
        cast(closing_mrr as Decimal(18, 2)) as closing_mrr,
        toUInt64(opening_customers) as opening_customers,
        toUInt64(closing_customers) as closing_customers,
        toUInt64(opening_subscribers) as opening_subscribers,
        toUInt64(closing_subscribers) as closing_subscribers,
        toUInt64(new_subscriptions) as new_subscriptions,
        toUInt64(reactivations) as reactivations,
        toUInt64(renewals) as renewals,
        toUInt64(churned_voluntary) as churned_voluntary,
        toUInt64(churned_involuntary) as churned_involuntary,
        toUInt64(trials_started) as trials_started,
        toUInt64(trials_converted) as trials_converted,
        toUInt64(trials_decided) as trials_decided,
        if(opening_subscribers = 0, null,
            round((churned_voluntary + churned_involuntary) / opening_subscribers, 4)) as churn_rate,
        if(opening_mrr = 0, null, round(toFloat64(-churn_mrr) / toFloat64(opening_mrr), 4))
            as mrr_churn_rate,
        if(renewals + churned_voluntary + churned_involuntary = 0, null,
            round(renewals / (renewals + churned_voluntary + churned_involuntary), 4)) as renewal_rate,
        if(trials_decided = 0, null, round(trials_converted / trials_decided, 4)) as trial_conversion_rate
    from joined
)

select * from final
