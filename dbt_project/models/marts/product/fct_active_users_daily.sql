{#-
    delete_insert keyed on the day for the same reason as fct_person_activity_daily: each run
    recomputes the last lookback_days, whose WAU/MAU read the 29 days before them.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete_insert',
        on_schema_change='fail',
        unique_key='activity_date',
        order_by='(activity_date, platform, acquisition_channel)',
        partition_by='toYYYYMM(activity_date)',
    )
}}

-- One row per day, platform and acquisition channel, with 'all' rows for the de-duplicated totals.
with

{%- if is_incremental() %}

report_start as (
    select max(activity_date) - {{ var('lookback_days', 3) }} as start_date from {{ this }}
),

{%- endif %}

person_days as (
    select activity_date, platform, person_id
    from {{ ref('fct_person_activity_daily') }}
    {%- if is_incremental() %}
    -- MAU of the first recomputed day reaches 29 days back.
    where activity_date >= (select start_date from report_start) - 29
    {%- endif %}
),

persons as (
    select
        person_id,
        acquisition_channel,
        first_seen_date
    from {{ ref('int_persons') }}
),

-- A person counts once per day on each platform and once on 'all'.
platform_days as (
    select distinct
        person_days.person_id as person_id,
        platform_key,
        activity_date
    from person_days
    array join [platform, 'all'] as platform_key
),

-- Each active day lands in the 30 reporting days whose trailing MAU window contains it.
windowed as (
    select
        platform_days.person_id as person_id,
        platform_key,
        activity_date + days_back as report_date,
        days_back
    from platform_days
    array join range(30) as days_back
    where report_date <= (select max(activity_date) from person_days)
    {%- if is_incremental() %}
        and report_date >= (select start_date from report_start)
    {%- endif %}
),

labelled as (
    select
        windowed.person_id as person_id,
        report_date,
        platform_key,
        cast(ifNull(persons.acquisition_channel, 'unknown') as LowCardinality(String)) as channel_key,
        days_back,
        persons.first_seen_date = report_date as is_first_seen_day
    from windowed
    left join persons on windowed.person_id = persons.person_id
    settings join_use_nulls = 1
),

final as (
    select
        report_date as activity_date,
        cast(platform_key as LowCardinality(String)) as platform,
        cast(if(grouping(channel_key) = 1, 'all', channel_key) as LowCardinality(String)) as acquisition_channel,
        uniqExactIf(person_id, days_back = 0) as dau,
        uniqExactIf(person_id, days_back < 7) as wau,
        uniqExact(person_id) as mau,
        uniqExactIf(person_id, days_back = 0 and is_first_seen_day) as new_users,
        round(dau / mau, 4) as stickiness,
        -- Early days have less than 30 days of data behind their MAU.
        cast(ifNull(
            report_date >= (select min(activity_date) from {{ ref('fct_person_activity_daily') }}) + 29,
            false
        ) as Bool) as has_full_window
    from labelled
    group by grouping sets ((report_date, platform_key, channel_key), (report_date, platform_key))
)

select * from final
