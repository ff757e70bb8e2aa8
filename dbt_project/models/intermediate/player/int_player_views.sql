{# on_schema_change='fail': a new column needs every month recomputed, so change the schema with --full-refresh. #}
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    on_schema_change='fail',
    engine='MergeTree()',
    partition_by='toYYYYMM(view_date)',
    order_by='(view_date, content_id, view_id)',
) }}
-- One row per media session (view) of the player, with Snowplow-media-style measures.
-- Incremental, monthly partitions by view start: a run recomputes whole months (the lookback
-- window, months with late-loaded events, months whose viewers' identity changed) and swaps
-- them in with insert_overwrite, so the table always equals a full rebuild. Sorted by date and
-- content: content and day reports are the main readers; one view's row is found by view_id
-- through the date.
with

player_events as (
    select * from {{ ref('stg_player_logs__events') }}
    where view_id is not null and not is_bot
),

content as (
    select * from {{ ref('stg_content_catalog__content') }}
),

identity as (
    select * from {{ ref('int_identity__ids') }}
),

{% if is_incremental() %}
{#- The months to rebuild are found by a query of their own before the model runs, so the
    model filters on a list of literals: the rebuild set is computed once, and the month
    filters prune partitions instead of re-evaluating a subquery over every event. -#}
{% set rebuild_sql %}
with

player_events as (
    select event_date, _loaded_at from {{ ref('stg_player_logs__events') }}
    where view_id is not null and not is_bot
),

-- A view lasts less than a day: an event belongs to a view that started on its day or the
-- day before, so a late event can change a view of the previous day's month.
event_months as (
    select event_date, _loaded_at as loaded_at from player_events
    union all
    select toDate(addDays(event_date, -1)), _loaded_at from player_events
),

identity_drift as (
    select distinct toYYYYMM(built.view_date) as rebuild_month
    from {{ this }} as built
    inner join {{ ref('int_identity__ids') }} as identity
        on built.anchor_id_type = identity.id_type and built.anchor_id_value = identity.id_value
    where built.person_id != identity.person_id
)

{{ rebuild_months('view_date', 'loaded_at', 'event_months', 'event_date',
    'select rebuild_month from identity_drift') }}
{% endset %}
{% set months = months_to_rebuild(rebuild_sql) | join(', ') %}
{% endif %}

-- The months rebuilt, with a day of context on both sides: a view that starts in the month and
-- ends after midnight of its last day is whole, and a view that started just before the month
-- is whole too (and then left out, as it belongs to the month before).
scoped_events as (
    select * from player_events
    {% if is_incremental() %}
    where toYYYYMM(event_date) in ({{ months }})
        or toYYYYMM(toDate(addDays(event_date, -1))) in ({{ months }})
        or toYYYYMM(toDate(addDays(event_date, 1))) in ({{ months }})
    {% endif %}
),

-- Each event beside its neighbours in device-clock order (the order the truth rebuild uses).
sequenced as (
    select
        view_id,
        event_id,
        media_event,
        event_at,
        current_time_sec,
        percent_progress,
        lagInFrame(media_event) over view_events as previous_event,
        lagInFrame(event_at) over view_events as previous_event_at,
        leadInFrame(current_time_sec) over view_events as next_position_sec,
        leadInFrame(event_at) over view_events as next_event_at,
        row_number() over view_events as event_number,
        count() over view_events as event_count
    from scoped_events
    window view_events as (
        partition by view_id
        order by event_at, current_time_sec, event_id
        rows between unbounded preceding and unbounded following
    )
),

-- Played position intervals: from a playing-state event to the next event, when the position
-- moved forward (a seek back or a pause leaves no interval).
intervals as (
    select
        view_id,
        current_time_sec as from_sec,
        next_position_sec as to_sec,
        event_at as from_at
    from sequenced
    where media_event in ('play', 'ping', 'percent_progress', 'quality_change', 'buffer_end', 'seek_end')
        and event_number < event_count
        and next_position_sec > current_time_sec
),

-- Re-watched parts count once: each interval adds only what lies beyond the furthest end of
-- the intervals that start before it.
interval_union as (
    select
        view_id,
        from_sec,
        to_sec,
        from_at,
        greatest(0, to_sec - greatest(from_sec, max(to_sec) over by_start)) as new_sec,
        sum(to_sec - from_sec) over by_time as played_until_sec
    from intervals
    window
        by_start as (partition by view_id order by from_sec, to_sec rows between unbounded preceding and 1 preceding),
        by_time as (partition by view_id order by from_at, from_sec rows between unbounded preceding and current row)
),

view_attributes as (
    select
        view_id,
        min(event_at) as started_at,
        max(event_at) as ended_at,
        coalesce(argMin(current_time_sec, (event_at, current_time_sec, event_id)), 0) as start_position_sec,
        max(duration_sec) as player_duration_sec,
        any(content_id) as content_id,
        any(platform) as platform,
        any(device_id) as device_id,
        anyIf(user_id, user_id is not null) as user_id,
        minIf(event_at, media_event = 'ready') as ready_at,
        minIf(event_at, media_event = 'play') as first_play_at,
        maxIf(percent_progress, media_event = 'percent_progress') as max_percent_progress,
        countIf(media_event = 'end') > 0 as has_end,
        count() as events,
        max(_loaded_at) as loaded_at
    from scoped_events
    group by view_id
),

view_waits as (
    select
        view_id,
        sumIf(dateDiff('millisecond', previous_event_at, event_at), media_event = 'play' and previous_event = 'pause')
            / 1000 as paused_sec,
        sumIf(
            dateDiff('millisecond', previous_event_at, event_at),
            media_event = 'buffer_end' and previous_event = 'buffer_start'
        ) / 1000 as buffering_sec
    from sequenced
    group by view_id
),

view_play as (
    select
        view_id,
        sum(new_sec) as unique_watched_sec,
        sum(to_sec - from_sec) as played_sec,
        max(to_sec) as furthest_played_sec,
        groupArray((from_at, from_sec, to_sec, played_until_sec)) as played_intervals
    from interval_union
    group by view_id
),

measured as (
    select
        attributes.view_id as view_id,
        attributes.content_id as content_id,
        attributes.platform as platform,
        attributes.device_id as device_id,
        attributes.user_id as user_id,
        attributes.started_at as started_at,
        attributes.ended_at as ended_at,
        attributes.start_position_sec as start_position_sec,
        coalesce(nullIf(attributes.player_duration_sec, 0), toFloat64(content.duration_sec)) as view_duration_sec,
        toFloat64(content.credits_start_sec) as view_credits_start_sec,
        coalesce(play.unique_watched_sec, 0) as view_unique_watched_sec,
        coalesce(play.played_sec, 0) as view_played_sec,
        coalesce(waits.paused_sec, 0) as view_paused_sec,
        coalesce(waits.buffering_sec, 0) as view_buffering_sec,
        assumeNotNull(greatest(attributes.start_position_sec, coalesce(play.furthest_played_sec, 0))) as view_furthest_sec,
        if(
            attributes.first_play_at > toDateTime64(0, 3, 'UTC') and attributes.ready_at > toDateTime64(0, 3, 'UTC'),
            dateDiff('millisecond', attributes.ready_at, attributes.first_play_at) / 1000,
            null
        ) as view_startup_sec,
        attributes.max_percent_progress as max_percent_progress,
        attributes.has_end as has_end,
        coalesce(play.played_intervals, []) as played_intervals,
        attributes.events as events,
        attributes.loaded_at as loaded_at
    from view_attributes as attributes
    left join view_waits as waits on attributes.view_id = waits.view_id
    left join view_play as play on attributes.view_id = play.view_id
    left join content on attributes.content_id = content.content_id
),

rules as (
    select
        *,
        {{ completion_position('view_duration_sec', 'view_credits_start_sec') }} as complete_position_sec,
        view_played_sec >= {{ var('valid_play_seconds', 30) }} as valid,
        view_furthest_sec >= complete_position_sec as complete
    from measured
),

final as (
    select
        assumeNotNull(rules.view_id) as view_id,
        assumeNotNull(coalesce(identity.person_id, {{ anonymous_person_id("concat('player:', rules.view_id)") }}))
            as person_id,
        coalesce(rules.content_id, '') as content_id,
        cast(rules.platform as LowCardinality(String)) as platform,
        rules.device_id as device_id,
        rules.user_id as user_id,
        toDateTime64(rules.started_at, 3, 'UTC') as started_at,
        toDateTime64(rules.ended_at, 3, 'UTC') as ended_at,
        toDate(rules.started_at) as view_date,
        rules.view_duration_sec as duration_sec,
        rules.view_credits_start_sec as credits_start_sec,
        assumeNotNull(rules.start_position_sec) as start_position_sec,
        rules.view_unique_watched_sec as unique_watched_sec,
        rules.view_played_sec as played_sec,
        rules.view_paused_sec as paused_sec,
        rules.view_buffering_sec as buffering_sec,
        rules.view_furthest_sec as furthest_position_sec,
        rules.view_startup_sec as startup_sec,
        {% for pct in [25, 50, 75, 90] -%}
        cast(coalesce(rules.max_percent_progress, 0) >= {{ pct }} or rules.has_end as Bool) as reached_{{ pct }},
        {% endfor -%}
        cast(rules.valid as Bool) as is_valid_play,
        cast(rules.complete as Bool) as is_complete,
        -- When the play time reached the valid-play threshold: inside the interval where the
        -- running play time crosses it, at normal speed.
        if(rules.valid, toDateTime64(arrayMin(arrayMap(
            x -> if(
                tupleElement(x, 4) >= {{ var('valid_play_seconds', 30) }},
                addMilliseconds(tupleElement(x, 1), toInt64(1000 * (
                    {{ var('valid_play_seconds', 30) }} - (tupleElement(x, 4) - (tupleElement(x, 3) - tupleElement(x, 2)))
                ))),
                toDateTime64('2299-12-31 00:00:00', 3, 'UTC')
            ),
            rules.played_intervals
        )), 3, 'UTC'), null) as valid_play_at,
        -- When the position first reached the completion point (in the first played interval
        -- ending past it); a view resumed past it counts from its start.
        if(rules.complete, toDateTime64(least(
            if(rules.start_position_sec >= rules.complete_position_sec, rules.started_at,
                toDateTime64('2299-12-31 00:00:00', 3, 'UTC')),
            arrayMin(arrayMap(
                x -> if(
                    tupleElement(x, 3) >= rules.complete_position_sec,
                    addMilliseconds(
                        tupleElement(x, 1),
                        toInt64(1000 * greatest(0, rules.complete_position_sec - tupleElement(x, 2)))
                    ),
                    toDateTime64('2299-12-31 00:00:00', 3, 'UTC')
                ),
                rules.played_intervals
            ))
        ), 3, 'UTC'), null) as completed_at,
        rules.events as events,
        cast(if(rules.user_id is not null, 'player_user_id', 'player_device_id') as LowCardinality(String))
            as anchor_id_type,
        coalesce(rules.user_id, rules.device_id, '') as anchor_id_value,
        rules.loaded_at as loaded_at
    from rules
    left join identity
        on identity.id_type = if(rules.user_id is not null, 'player_user_id', 'player_device_id')
        and identity.id_value = coalesce(rules.user_id, rules.device_id, '')
    {% if is_incremental() %}
    where toYYYYMM(rules.started_at) in ({{ months }})
    {% endif %}
)

select * from final
