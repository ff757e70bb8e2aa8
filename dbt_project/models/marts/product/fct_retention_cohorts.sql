{{
    config(
        order_by='(cohort_type, retention_type, period_grain, acquisition_channel, first_platform, cohort_start, period_number)',
    )
}}

{#-
    A table rebuilt on every run: "on or after period N" of an old cohort changes whenever one of
    its people comes back, so no part of it is final. It reads the compact person-day table.
-#}

{%- set max_periods = var('retention_max_periods', {'day': 35, 'week': 26, 'month': 12}) %}

-- One row per cohort type, retention type, period grain, cohort, channel, first platform and period N.
with

person_days as (
    select
        person_id,
        activity_date,
        payments > 0 as has_payment
    from {{ ref('fct_person_activity_daily') }}
),

persons as (
    select
        person_id,
        first_seen_date,
        toDate(first_paid_at) as first_paid_date,
        acquisition_channel,
        first_platform
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
        {%- for grain in ['day', 'week', 'month'] %}
        ('{{ grain }}', {{ max_periods[grain] }}){{ ',' if not loop.last }}
        {%- endfor %}
    )
),

person_periods as (
    select
        person_id,
        period_grain,
        any(max_period) as max_period,
        arraySort(groupUniqArray({{ product_period_index('activity_date') }})) as active_periods,
        arraySort(groupUniqArrayIf({{ product_period_index('activity_date') }}, has_payment)) as paid_periods,
        {{ product_period_index('(select last_date from data_end)') }} as last_period
    from person_days
    cross join grains
    group by person_id, period_grain
),

-- Every cohort a person belongs to: first-time (first seen / first paid period) and recurring
-- (every period with activity / with a payment).
cohort_members as (
    select
        person_periods.person_id as person_id,
        period_grain,
        max_period,
        active_periods,
        last_period,
        cohort.1 as cohort_type,
        cohort.2 as retention_type,
        cohort.3 as cohort_period
    from person_periods
    left join persons on person_periods.person_id = persons.person_id
    array join arrayConcat(
        if(
            persons.first_seen_date is null,
            [],
            [('first_seen', 'first_time', {{ product_period_index('assumeNotNull(persons.first_seen_date)') }})]
        ),
        if(
            persons.first_paid_date is null,
            [],
            [('first_paid', 'first_time', {{ product_period_index('assumeNotNull(persons.first_paid_date)') }})]
        ),
        arrayMap(p -> ('first_seen', 'recurring', p), active_periods),
        arrayMap(p -> ('first_paid', 'recurring', p), paid_periods)
    ) as cohort
    settings join_use_nulls = 1
),

member_periods as (
    select
        person_id,
        period_grain,
        cohort_type,
        retention_type,
        cohort_period,
        period_number,
        has(active_periods, cohort_period + period_number) as is_active_on,
        arrayMax(active_periods) >= cohort_period + period_number as is_active_on_or_after
    from cohort_members
    array join range(toUInt32(least(max_period, greatest(last_period - cohort_period, -1)) + 1)) as period_number
),

final as (
    select
        cast(cohort_type as LowCardinality(String)) as cohort_type,
        cast(retention_type as LowCardinality(String)) as retention_type,
        cast(period_grain as LowCardinality(String)) as period_grain,
        {{ product_period_start('cohort_period') }} as cohort_start,
        toUInt16(period_number) as period_number,
        cast(ifNull(persons.acquisition_channel, 'unknown') as LowCardinality(String)) as acquisition_channel,
        cast(ifNull(persons.first_platform, 'unknown') as LowCardinality(String)) as first_platform,
        count() as cohort_persons,
        countIf(is_active_on) as persons_active_on,
        countIf(is_active_on_or_after) as persons_active_on_or_after,
        round(persons_active_on / cohort_persons, 4) as retention_on,
        round(persons_active_on_or_after / cohort_persons, 4) as retention_on_or_after,
        -- Period N is over only once its last day is in the data.
        cast(ifNull(
            {{ product_period_end('cohort_start', 'period_number') }} <= (select last_date from data_end),
            false
        ) as Bool) as is_period_complete
    from member_periods
    left join persons on member_periods.person_id = persons.person_id
    group by cohort_type, retention_type, period_grain, cohort_period, period_number, acquisition_channel, first_platform
    settings join_use_nulls = 1
)

select * from final
