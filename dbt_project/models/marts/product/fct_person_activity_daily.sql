{#-
    delete_insert keyed on the day, not insert_overwrite: a run recomputes few days, far less
    than any partition worth having, and deleting whole days (rather than person rows) also
    drops rows whose person was merged into another by identity resolution. The days rebuilt:
    the last lookback_days, and every day whose events changed since it was built (identity
    re-attribution moves old touches to another person; late loads add old touches), found by
    comparing each day's events_fingerprint with int_events. Monthly partitions keep the
    deletes to few parts.
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

{%- if is_incremental() %}

-- Days whose events differ from what was built: a sum of per-event hashes (wrapping UInt64
-- arithmetic, so the sum over a day's rows equals the sum over its events).
changed_days as (
    select coalesce(fresh.event_date, built.activity_date) as day
    from (
        select event_date, sum({{ product_event_fingerprint() }}) as fingerprint
        from {{ ref('int_events') }}
        group by event_date
    ) as fresh
    full outer join (
        select activity_date, sum(events_fingerprint) as fingerprint
        from {{ this }}
        group by activity_date
    ) as built on fresh.event_date = built.activity_date
    where fresh.fingerprint is null or built.fingerprint is null or fresh.fingerprint != built.fingerprint
    settings join_use_nulls = 1
),

{%- endif %}

events as (
    select * from {{ ref('int_events') }}
    {%- if is_incremental() %}
    where event_date >= (select max(activity_date) from {{ this }}) - {{ var('lookback_days', 3) }}
        or event_date in (select day from changed_days)
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
        max(event_at) as last_event_at,
        sum({{ product_event_fingerprint() }}) as events_fingerprint
    from events
    group by activity_date, platform, person_id
)

select * from final
