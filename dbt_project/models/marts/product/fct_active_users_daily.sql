{#-
    delete_insert keyed on the day for the same reason as fct_person_activity_daily. A run
    recomputes from the earliest day whose inputs changed since it was built (a person merged
    away or into another, a changed acquisition channel or first-seen day: the day's
    inputs_fingerprint differs), or else from the last lookback_days, to the newest day; each
    recomputed day's WAU/MAU read the 29 days before it. Days before the first day ever built
    are not looked at: loading older history needs --full-refresh.
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

built_days as (
    select activity_date, any(inputs_fingerprint) as fingerprint
    from {{ this }}
    group by activity_date
),

fresh_days as (
    select activity_date, {{ active_users_inputs_fingerprint('activity', 'persons_now') }} as fingerprint
    from {{ ref('fct_person_activity_daily') }} as activity
    left join {{ ref('int_persons') }} as persons_now on activity.person_id = persons_now.person_id
    where activity.activity_date >= (select min(activity_date) from built_days)
    group by activity_date
),

changed_days as (
    select coalesce(fresh_days.activity_date, built_days.activity_date) as day
    from fresh_days
    full outer join built_days on fresh_days.activity_date = built_days.activity_date
    where fresh_days.fingerprint is null or built_days.fingerprint is null
        or fresh_days.fingerprint != built_days.fingerprint
    settings join_use_nulls = 1
),

report_start as (
    select least(
        (select max(activity_date) from {{ this }}) - {{ var('lookback_days', 3) }},
        ifNull((select minOrNull(day) from changed_days), toDate('2149-06-06'))
    ) as start_date
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

-- What each day's figures are computed from, hashed: compared on the next incremental run.
day_fingerprints as (
    select activity_date, {{ active_users_inputs_fingerprint('person_days', 'persons') }} as fingerprint
    from person_days
    left join persons on person_days.person_id = persons.person_id
    group by activity_date
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

select
    final.*,
    day_fingerprints.fingerprint as inputs_fingerprint
from final
left join day_fingerprints on final.activity_date = day_fingerprints.activity_date
