{#-
    delete_insert keyed on the day, not insert_overwrite: a run recomputes only the last
    lookback_days, far less than any partition worth having, and deleting whole days (rather than
    person rows) also drops rows whose person was merged into another by identity resolution.
    Monthly partitions keep those deletes to the newest parts.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete_insert',
        on_schema_change='fail',
        unique_key='activity_date',
        order_by='(activity_date, platform, person_id)',
        partition_by='toYYYYMM(activity_date)',
    )
}}

-- One row per person, day and platform with any event: the activity every product mart counts.
with

events as (
    select * from {{ ref('int_events') }}
    {%- if is_incremental() %}
    where event_date >= (select max(activity_date) from {{ this }}) - {{ var('lookback_days', 3) }}
    {%- endif %}
),

final as (
    select
        event_date as activity_date,
        cast(platform as LowCardinality(String)) as platform,
        person_id,
        count() as events,
        uniqExact(session_id) as sessions,
        countIf(event_type = 'play') as plays,
        countIf(event_type in ('first_payment', 'renewal', 'reactivation')) as payments,
        cast(sum(value) as Decimal(18, 2)) as revenue,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from events
    group by activity_date, platform, person_id
)

select * from final
