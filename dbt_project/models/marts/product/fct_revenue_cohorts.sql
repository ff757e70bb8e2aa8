{{
    config(
        order_by='(cohort_type, period_grain, acquisition_channel, first_platform, cohort_start, period_number)',
    )
}}

{#-
    A table rebuilt on every run, like fct_retention_cohorts: a refund or a late payment changes
    old cells of the triangle, and cumulative revenue carries that change to every later cell.
-#}

{%- set max_periods = var('retention_max_periods', {'day': 35, 'week': 26, 'month': 12}) %}

-- One row per cohort type, period grain, cohort, acquisition channel, first platform and period N.
with

person_days as (
    select
        person_id,
        activity_date,
        revenue
    from {{ ref('fct_person_activity_daily') }}
),

persons as (
    select
        person_id,
        first_seen_date,
        toDate(first_paid_at) as first_paid_date,
        cast(ifNull(acquisition_channel, 'unknown') as LowCardinality(String)) as acquisition_channel,
        cast(ifNull(first_platform, 'unknown') as LowCardinality(String)) as first_platform
    from {{ ref('int_persons') }}
),

data_end as (
    select max(activity_date) as last_date from person_days
),

grains as (
    select
        period_grain,
        max_period
    from values(
        'period_grain String, max_period UInt16',
        ('week', {{ max_periods['week'] }}),
        ('month', {{ max_periods['month'] }})
    )
),

-- Each person's cohort by first seen and, once paying, by first payment.
cohorts as (
    select
        person_id,
        period_grain,
        max_period,
        acquisition_channel,
        first_platform,
        cohort.1 as cohort_type,
        cohort.2 as cohort_period
    from persons
    cross join grains
    array join arrayConcat(
        [('first_seen', {{ product_period_index('first_seen_date') }})],
        if(
            first_paid_date is null,
            [],
            [('first_paid', {{ product_period_index('assumeNotNull(first_paid_date)') }})]
        )
    ) as cohort
),

cohort_sizes as (
    select
        cohort_type,
        period_grain,
        cohort_period,
        acquisition_channel,
        first_platform,
        any(max_period) as max_period,
        count() as cohort_persons
    from cohorts
    group by cohort_type, period_grain, cohort_period, acquisition_channel, first_platform
),

-- Net revenue (payments less refunds) by the period it was booked in, relative to the cohort.
-- Money before the first payment of a first_paid cohort (a card-binding charge) is left out.
cohort_revenue as (
    select
        cohort_type,
        period_grain,
        cohort_period,
        acquisition_channel,
        first_platform,
        {{ product_period_index('activity_date') }} - cohort_period as period_offset,
        sum(revenue) as period_revenue,
        uniqExactIf(person_days.person_id, revenue > 0) as period_paying_persons
    from person_days
    inner join cohorts on person_days.person_id = cohorts.person_id
    where revenue != 0
    group by cohort_type, period_grain, cohort_period, acquisition_channel, first_platform, period_offset
    having period_offset >= 0
),

-- Every period from the cohort's own to the current one, with or without revenue.
dense as (
    select
        cohort_sizes.cohort_type as cohort_type,
        cohort_sizes.period_grain as period_grain,
        cohort_sizes.cohort_period as cohort_period,
        cohort_sizes.acquisition_channel as acquisition_channel,
        cohort_sizes.first_platform as first_platform,
        cohort_persons,
        period_number
    from cohort_sizes
    array join range(toUInt32(least(
        max_period,
        greatest({{ product_period_index('(select last_date from data_end)') }} - cohort_period, -1)
    ) + 1)) as period_number
),

final as (
    select
        cast(dense.cohort_type as LowCardinality(String)) as cohort_type,
        cast(dense.period_grain as LowCardinality(String)) as period_grain,
        {{ product_period_start('dense.cohort_period', 'dense.period_grain') }} as cohort_start,
        toUInt16(period_number) as period_number,
        dense.acquisition_channel as acquisition_channel,
        dense.first_platform as first_platform,
        cohort_persons,
        -- Periods without revenue find no match and take the defaults, zero.
        toUInt64(period_paying_persons) as paying_persons,
        cast(period_revenue as Decimal(18, 2)) as revenue,
        cast(sum(revenue) over (
            partition by dense.cohort_type, dense.period_grain, dense.cohort_period,
                dense.acquisition_channel, dense.first_platform
            order by period_number
            rows between unbounded preceding and current row
        ) as Decimal(18, 2)) as cumulative_revenue,
        -- LTV to date: what an average member of the cohort has paid by the end of period N.
        round(toFloat64(cumulative_revenue) / cohort_persons, 2) as revenue_per_person,
        cast(ifNull(
            {{ product_period_end('cohort_start', 'period_number', 'dense.period_grain') }} <= (select last_date from data_end),
            false
        ) as Bool) as is_period_complete
    from dense
    left join cohort_revenue
        on dense.cohort_type = cohort_revenue.cohort_type
        and dense.period_grain = cohort_revenue.period_grain
        and dense.cohort_period = cohort_revenue.cohort_period
        and dense.acquisition_channel = cohort_revenue.acquisition_channel
        and dense.first_platform = cohort_revenue.first_platform
        and toInt64(dense.period_number) = cohort_revenue.period_offset
)

select * from final
