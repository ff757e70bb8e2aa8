{{ config(order_by='(channel, acquisition_month, months_since_acquisition)') }}

{#-
    A small table rebuilt on every run: a late payment or refund changes an old cohort's
    running revenue, and identity changes can move a person to another cohort.
-#}

-- One row per acquisition month, acquisition channel and month since acquisition (0, 1, …).
with

persons as (
    select * from {{ ref('int_persons') }}
),

events as (
    select * from {{ ref('int_events') }}
),

spend_daily as (
    select * from {{ ref('fct_marketing_spend_daily') }}
),

-- A person is acquired in the month of their first touch, by their acquisition channel.
acquired as (
    select
        person_id,
        toStartOfMonth(first_seen_date) as acquisition_month,
        toString(acquisition_channel) as channel,
        first_paid_at is not null as is_customer
    from persons
),

cohort_people as (
    select
        acquisition_month,
        channel,
        count() as people,
        countIf(is_customer) as customers
    from acquired
    group by acquisition_month, channel
),

-- Net revenue (payments less refunds) of each cohort by calendar month.
cohort_revenue as (
    select
        acquired.acquisition_month as acquisition_month,
        acquired.channel as channel,
        toStartOfMonth(events.event_date) as revenue_month,
        sum(events.value) as net_revenue
    from events
    inner join acquired on events.person_id = acquired.person_id
    where events.value != 0
    group by acquisition_month, channel, revenue_month
),

cohort_spend as (
    select
        toStartOfMonth(spend_date) as acquisition_month,
        toString(channel) as channel,
        sum(spend) as spend
    from spend_daily
    group by acquisition_month, channel
),

cohorts as (
    select acquisition_month, channel from cohort_people
    union distinct
    select acquisition_month, channel from cohort_spend
),

data_end as (
    select max(month) as last_month
    from (
        select max(toStartOfMonth(event_date)) as month from events
        union all
        select max(toStartOfMonth(spend_date)) from spend_daily
    )
),

-- Months 0 … last data month for every cohort.
cohort_months as (
    select
        cohorts.acquisition_month as acquisition_month,
        cohorts.channel as channel,
        toUInt16(offset) as months_since_acquisition,
        addMonths(cohorts.acquisition_month, offset) as month
    from cohorts
    cross join data_end
    array join range(toUInt64(
        greatest(dateDiff('month', cohorts.acquisition_month, data_end.last_month), 0) + 1
    )) as offset
),

running as (
    select
        cohort_months.acquisition_month as acquisition_month,
        cohort_months.channel as channel,
        cohort_months.months_since_acquisition as months_since_acquisition,
        cohort_months.month as month,
        coalesce(cohort_people.people, 0) as people,
        coalesce(cohort_people.customers, 0) as customers,
        toDecimal64(coalesce(cohort_spend.spend, 0), 2) as spend,
        toDecimal64(coalesce(cohort_revenue.net_revenue, 0), 2) as net_revenue,
        toDecimal64(sum(coalesce(cohort_revenue.net_revenue, 0)) over cohort_to_date, 2)
            as cumulative_net_revenue
    from cohort_months
    left join cohort_people
        on cohort_months.acquisition_month = cohort_people.acquisition_month
        and cohort_months.channel = cohort_people.channel
    left join cohort_spend
        on cohort_months.acquisition_month = cohort_spend.acquisition_month
        and cohort_months.channel = cohort_spend.channel
    left join cohort_revenue
        on cohort_months.acquisition_month = cohort_revenue.acquisition_month
        and cohort_months.channel = cohort_revenue.channel
        and cohort_months.month = cohort_revenue.revenue_month
    window cohort_to_date as (
        partition by cohort_months.acquisition_month, cohort_months.channel
        order by cohort_months.months_since_acquisition
        rows between unbounded preceding and current row
    )
    settings join_use_nulls = 1
),

final as (
    select
        acquisition_month,
        cast(channel as LowCardinality(String)) as channel,
        months_since_acquisition,
        month,
        toUInt64(people) as people,
        toUInt64(customers) as customers,
        spend,
        net_revenue,
        cumulative_net_revenue,
        if(spend > 0, toFloat64(cumulative_net_revenue - spend) / toFloat64(spend), null) as cumulative_romi,
        cast(spend > 0 and cumulative_net_revenue >= spend as Bool) as is_paid_back,
        -- First month whose running revenue covers the spend; NULL while it does not yet.
        toNullable(toUInt16(minIf(months_since_acquisition, is_paid_back) over cohort))
            as first_paid_back_month,
        if(countIf(is_paid_back) over cohort > 0, first_paid_back_month, null) as payback_months
    from running
    window cohort as (partition by acquisition_month, channel)
)

select * except (first_paid_back_month) from final
