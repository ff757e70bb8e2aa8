{# on_schema_change='fail': a new column needs every month recomputed, so change the schema with --full-refresh. #}
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    on_schema_change='fail',
    engine='MergeTree()',
    partition_by='toYYYYMM(session_date)',
    order_by='(session_date, platform, person_id, session_id)',
) }}
-- One row per session: a person's touches on one platform with less than the session timeout
-- (var session_timeout_minutes) of inactivity between them; the touches carry their session_id
-- in int_events. Attributes of the first touch: source/medium/campaign, referrer, channel.
-- Incremental, monthly partitions by session start, insert_overwrite: a run rebuilds the
-- lookback window and every month whose events changed (new, re-attributed or re-sessioned
-- touches change the month's fingerprint: an xor of its events' ids and persons), so the table
-- always equals a full rebuild. Sorted by day and platform, the usual grouping of session
-- reports (DAU, platform split).
with

events as (
    select * from {{ ref('int_events') }}
    where session_id is not null
),

sessions as (
    select
        session_id,
        any(person_id) as session_person_id,
        any(platform) as session_platform,
        min(event_at) as session_started_at,
        max(activity_end_at) as session_ended_at,
        count() as event_count,
        argMin(utm_source, (event_at, event_seq)) as first_utm_source,
        argMin(utm_medium, (event_at, event_seq)) as first_utm_medium,
        argMin(utm_campaign, (event_at, event_seq)) as first_utm_campaign,
        argMin(referrer, (event_at, event_seq)) as first_referrer,
        argMin(channel, (event_at, event_seq)) as first_channel,
        argMin(event_type, (event_at, event_seq)) as first_event_type,
        countIf(event_type in ('page_view', 'screen_view', 'title_page')) as page_count,
        countIf(event_type = 'play') as play_count,
        groupBitXor(sipHash64(event_id, person_id)) as fingerprint
    from events
    group by session_id
),

{% if is_incremental() %}
month_fingerprints as (
    select
        toYYYYMM(toDate(session_started_at)) as rebuild_month,
        groupBitXor(fingerprint) as month_fingerprint,
        count() as session_count
    from sessions
    group by rebuild_month
    union all
    select
        toYYYYMM(session_date),
        groupBitXor(events_fingerprint),
        count()
    from {{ this }}
    group by toYYYYMM(session_date)
),

changed_months as (
    select rebuild_month
    from month_fingerprints
    group by rebuild_month
    having count() != 2 or min(month_fingerprint) != max(month_fingerprint) or min(session_count) != max(session_count)
),

rebuild as (
    select toYYYYMM(toDate(addDays((select max(session_date) from {{ this }}), -{{ var('lookback_days', 3) }})))
        as rebuild_month
    union distinct
    select rebuild_month from changed_months
),
{% endif %}

final as (
    select
        assumeNotNull(session_id) as session_id,
        session_person_id as person_id,
        cast(session_platform as LowCardinality(String)) as platform,
        session_started_at as started_at,
        session_ended_at as ended_at,
        toDate(session_started_at) as session_date,
        toUInt32(dateDiff('second', session_started_at, session_ended_at)) as duration_seconds,
        event_count as events,
        page_count as page_views,
        play_count as plays,
        first_utm_source as utm_source,
        first_utm_medium as utm_medium,
        first_utm_campaign as utm_campaign,
        first_referrer as referrer,
        -- A session opened without attribution data (an app opened again) is direct traffic.
        cast(coalesce(first_channel, 'direct') as LowCardinality(String)) as channel,
        cast(first_event_type as LowCardinality(String)) as first_event_type,
        fingerprint as events_fingerprint
    from sessions
    {% if is_incremental() %}
    where toYYYYMM(toDate(session_started_at)) in (select rebuild_month from rebuild)
    {% endif %}
)

select * from final
