{{
    config(
        order_by='(period_grain, period_start, lifecycle_status, acquisition_channel, first_platform)',
    )
}}

{#-
    A table rebuilt on every run: it is small (periods x channels x platforms x 4 statuses) and a
    person's status in old periods changes when identity resolution merges people.
-#}

-- One row per period grain, period, acquisition channel, first platform and lifecycle status.
with

person_days as (
    select person_id, activity_date from {{ ref('fct_person_activity_daily') }}
),

persons as (
    select
        person_id,
        first_seen_date,
        acquisition_channel,
        first_platform
    from {{ ref('int_persons') }}
),

data_end as (
    select max(activity_date) as last_date from person_days
),

-- Distinct (person, grain, period) with activity.
person_periods as (
    select distinct
        person_id,
        period_grain,
        multiIf(
            period_grain = 'day', activity_date,
            period_grain = 'week', toMonday(activity_date),
            toStartOfMonth(activity_date)
        ) as period_start
    from person_days
    array join ['day', 'week', 'month'] as period_grain
),

-- Each active period with the person's previous and next active period of the same grain.
sequenced as (
    select
        person_id,
        period_grain,
        period_start,
        lagInFrame(period_start, 1, toDate('1970-01-01')) over w as previous_start,
        leadInFrame(period_start, 1, toDate('1970-01-01')) over w as next_start
    from person_periods
    window w as (
        partition by person_id, period_grain order by period_start
        rows between unbounded preceding and unbounded following
    )
),

-- The period before / after a given one at each grain.
stepped as (
    select
        sequenced.*,
        multiIf(
            period_grain = 'day', period_start - 1,
            period_grain = 'week', period_start - 7,
            addMonths(period_start, -1)
        ) as period_before,
        multiIf(
            period_grain = 'day', period_start + 1,
            period_grain = 'week', period_start + 7,
            addMonths(period_start, 1)
        ) as period_after
    from sequenced
),

statuses as (
    -- Active in the period: new, returning or resurrecting.
    select
        stepped.person_id as person_id,
        period_grain,
        period_start,
        multiIf(
            persons.first_seen_date >= period_start and persons.first_seen_date < period_after, 'new',
            previous_start = period_before, 'returning',
            'resurrecting'
        ) as lifecycle_status
    from stepped
    left join persons on stepped.person_id = persons.person_id
    union all
    -- Active in the period but not in the next one (which has started): dormant in the next.
    select
        person_id,
        period_grain,
        period_after as period_start,
        'dormant' as lifecycle_status
    from stepped
    where next_start != period_after
        and period_after <= (select last_date from data_end)
),

final as (
    select
        cast(period_grain as LowCardinality(String)) as period_grain,
        period_start,
        cast(lifecycle_status as LowCardinality(String)) as lifecycle_status,
        cast(ifNull(persons.acquisition_channel, 'unknown') as LowCardinality(String)) as acquisition_channel,
        cast(ifNull(persons.first_platform, 'unknown') as LowCardinality(String)) as first_platform,
        count() as persons,
        -- Dormant people count against the period, as in a lifecycle chart.
        toInt64(if(lifecycle_status = 'dormant', -persons, persons)) as persons_signed,
        cast(ifNull({{ product_period_end('period_start') }} <= (select last_date from data_end), false) as Bool)
            as is_period_complete
    from statuses
    left join persons on statuses.person_id = persons.person_id
    group by period_grain, period_start, lifecycle_status, acquisition_channel, first_platform
    settings join_use_nulls = 1
)

select * from final
