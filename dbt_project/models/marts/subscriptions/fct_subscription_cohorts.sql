{{
    config(
        order_by='(acquisition_channel, cohort_month, months_since)',
    )
}}

{#-
    Rebuilt on every run: a refund or a late charge changes old cells, and cumulative revenue
    carries the change to every later cell. Sorted by channel, then cohort, the way the triangle
    is read.
-#}

-- One row per first-paid month (cohort), acquisition channel and months since the cohort month:
-- subscribers still paying and cumulative net revenue per subscriber (LTV to date).
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

-- A subscriber is a person with a paid charge; their cohort is the month of the first one.
subscribers as (
    select
        person_id,
        toStartOfMonth(toDate(assumeNotNull(min(paid_started_at)))) as cohort_month,
        argMin(acquisition_channel, paid_started_at) as acquisition_channel
    from subscriptions
    where paid_started_at is not null
    group by person_id
),

cohorts as (
    select
        cohort_month,
        acquisition_channel,
        count() as cohort_subscribers
    from subscribers
    group by cohort_month, acquisition_channel
),

cells as (
    select
        cohort_month,
        acquisition_channel,
        cohort_subscribers,
        months_since,
        addMonths(cohort_month, months_since) as month_start,
        least(toLastDayOfMonth(month_start), as_of_date) as close_date,
        toLastDayOfMonth(month_start) <= as_of_date as is_month_complete
    from cohorts
    cross join as_of
    array join range(toUInt32(greatest(dateDiff('month', cohort_month, toStartOfMonth(as_of_date)) + 1, 0)))
        as months_since
),

-- Paid access as the days it is active at their end (fct_subscriptions_daily's rule): from the
-- first paid day up to the day before access ended.
paid_spans as (
    select
        subscriptions.person_id as person_id,
        subscribers.cohort_month as cohort_month,
        subscribers.acquisition_channel as acquisition_channel,
        toDate(assumeNotNull(subscriptions.paid_started_at)) as first_day,
        if(subscriptions.ended_date is null, toDate('2149-06-06'), subscriptions.ended_date - 1) as last_day
    from subscriptions
    inner join subscribers on subscriptions.person_id = subscribers.person_id
    where subscriptions.paid_started_at is not null
),

-- Subscribers paying at the end of at least one day of the month.
active as (
    select
        cells.cohort_month as cohort_month,
        cells.acquisition_channel as acquisition_channel,
        cells.months_since as months_since,
        uniqExact(paid_spans.person_id) as active_subscribers
    from cells
    inner join paid_spans
        on cells.cohort_month = paid_spans.cohort_month
        and cells.acquisition_channel = paid_spans.acquisition_channel
    where paid_spans.first_day <= paid_spans.last_day
        and paid_spans.first_day <= cells.close_date
        and paid_spans.last_day >= cells.month_start
    group by cohort_month, acquisition_channel, months_since
),

-- Net revenue (charges less refunds, card bindings included) by the month it was booked in;
-- money booked before the cohort month (a trial's card binding) counts in month 0.
revenue as (
    select
        subscribers.cohort_month as cohort_month,
        subscribers.acquisition_channel as acquisition_channel,
        toUInt32(greatest(dateDiff('month', subscribers.cohort_month, toStartOfMonth(events.event_date)), 0))
            as months_since,
        sum(events.revenue) as net_revenue
    from events
    inner join subscribers on events.person_id = subscribers.person_id
    where events.revenue != 0
    group by cohort_month, acquisition_channel, months_since
),

final as (
    select
        cells.cohort_month as cohort_month,
        cast(cells.acquisition_channel as LowCardinality(String)) as acquisition_channel,
        toUInt16(cells.months_since) as months_since,
        cells.month_start as month_start,
        toUInt64(cells.cohort_subscribers) as cohort_subscribers,
        -- Cells without a match take the defaults, zero.
        toUInt64(active.active_subscribers) as active_subscribers,
        round(active_subscribers / cohort_subscribers, 4) as retained_share,
        cast(revenue.net_revenue as Decimal(18, 2)) as net_revenue,
        cast(sum(revenue.net_revenue) over (
            partition by cells.cohort_month, cells.acquisition_channel
            order by cells.months_since
            rows between unbounded preceding and current row
        ) as Decimal(18, 2)) as cumulative_net_revenue,
        round(toFloat64(cumulative_net_revenue) / cohort_subscribers, 2) as ltv,
        cast(cells.is_month_complete as Bool) as is_month_complete
    from cells
    left join active
        on cells.cohort_month = active.cohort_month
        and cells.acquisition_channel = active.acquisition_channel
        and cells.months_since = active.months_since
    left join revenue
        on cells.cohort_month = revenue.cohort_month
        and cells.acquisition_channel = revenue.acquisition_channel
        and cells.months_since = revenue.months_since
)

select * from final
