{{
    config(
        order_by='(level, view_date, content_id)',
        partition_by='toYYYYMM(view_date)',
    )
}}

{#-
    A table rebuilt on every run: continuation looks `content_continuation_window_days` ahead
    of each day and ranks compare titles within a day, so late views change earlier rows.
-#}

{%- set window_days = var('content_continuation_window_days', 7) %}

-- One row per level (title, season, series), catalogue item and view day.
with

views as (
    select
        view_id,
        person_id,
        content_id,
        view_date,
        started_at,
        ifNull(duration_sec, 0) as duration_sec,
        unique_watched_sec,
        furthest_position_sec,
        is_valid_play,
        is_complete
    from {{ ref('int_player_views') }}
),

hierarchy as (
    {{ content_hierarchy(ref('stg_content_catalog__content')) }}
),

-- Each view once per level it rolls up to: its title, its season and its series.
leveled_views as (
    select
        views.*,
        hierarchy.next_content_id as next_content_id,
        level_pair.1 as level,
        level_pair.2 as level_content_id
    from views
    left join hierarchy on views.content_id = hierarchy.content_id
    array join arrayFilter(
        x -> x.2 != '',
        [('title', views.content_id), ('season', hierarchy.season_id), ('series', hierarchy.series_id)]
    ) as level_pair
),

-- Per person, episode and day: the first start that day, and whether the person started the
-- next episode within the window after it.
episode_person_days as (
    select
        person_id,
        content_id,
        view_date,
        next_content_id,
        min(started_at) as first_started_at
    from leveled_views
    where level = 'title' and next_content_id != ''
    group by person_id, content_id, view_date, next_content_id
),

person_title_starts as (
    select
        person_id,
        content_id,
        groupArray(started_at) as starts
    from views
    group by person_id, content_id
),

continuation as (
    select
        episode_person_days.person_id as person_id,
        episode_person_days.content_id as content_id,
        episode_person_days.view_date as view_date,
        arrayExists(
            s -> s > episode_person_days.first_started_at
                and s <= addDays(episode_person_days.first_started_at, {{ window_days }}),
            person_title_starts.starts
        ) as is_continued
    from episode_person_days
    left join person_title_starts
        on episode_person_days.person_id = person_title_starts.person_id
        and episode_person_days.next_content_id = person_title_starts.content_id
),

-- Continuation counted on every level the episode rolls up to (person × episode pairs).
leveled_continuation as (
    select
        level_pair.1 as level,
        level_pair.2 as level_content_id,
        continuation.view_date as view_date,
        count() as continuation_base,
        countIf(is_continued) as continued
    from continuation
    inner join hierarchy on continuation.content_id = hierarchy.content_id
    array join arrayFilter(
        x -> x.2 != '',
        [('title', continuation.content_id), ('season', hierarchy.season_id), ('series', hierarchy.series_id)]
    ) as level_pair
    group by level, level_content_id, view_date
),

aggregated as (
    select
        level,
        level_content_id,
        view_date,
        uniqExact(person_id) as viewers,
        count() as plays,
        countIf(is_valid_play) as valid_plays,
        countIf(is_complete) as complete_plays,
        sum(unique_watched_sec) as watched_sec,
        avgIf(unique_watched_sec / duration_sec, duration_sec > 0) as avg_share_watched,
        countIf(duration_sec > 0) as plays_with_duration,
        -- Views whose furthest position reached k/10 of the duration, k = 1..10.
        sumForEachIf(
            arrayMap(k -> toUInt64(furthest_position_sec * 10 >= duration_sec * k), range(1, 11)),
            duration_sec > 0
        ) as reached_deciles
    from leveled_views
    group by level, level_content_id, view_date
),

final as (
    select
        aggregated.view_date as view_date,
        cast(aggregated.level as LowCardinality(String)) as level,
        aggregated.level_content_id as content_id,
        -- Unmatched joins give the type defaults ('' and 0), turned into NULL where it means none.
        cast(if(hierarchy.content_type = '', 'unknown', hierarchy.content_type) as LowCardinality(String))
            as content_type,
        hierarchy.title as title,
        nullIf(hierarchy.series_id, '') as series_id,
        hierarchy.season_number as season_number,
        hierarchy.episode_number as episode_number,
        cast(hierarchy.is_original as Bool) as is_original,
        toUInt64(aggregated.viewers) as viewers,
        toUInt64(aggregated.plays) as plays,
        toUInt64(aggregated.valid_plays) as valid_plays,
        toUInt64(aggregated.complete_plays) as complete_plays,
        aggregated.complete_plays / aggregated.plays as completion_rate,
        aggregated.watched_sec / 3600 as watch_hours,
        if(aggregated.plays_with_duration > 0, aggregated.avg_share_watched, null) as avg_share_watched,
        if(
            aggregated.plays_with_duration > 0,
            arrayMap(x -> x / aggregated.plays_with_duration, aggregated.reached_deciles),
            arrayResize(cast([] as Array(Float64)), 10, 0)
        ) as drop_off_curve,
        toUInt64(leveled_continuation.continuation_base) as continuation_viewers,
        toUInt64(leveled_continuation.continued) as continued_viewers,
        if(
            leveled_continuation.continuation_base > 0,
            leveled_continuation.continued / leveled_continuation.continuation_base,
            null
        ) as continuation_rate,
        toUInt32(row_number() over (
            partition by aggregated.level, aggregated.view_date
            order by aggregated.viewers desc, aggregated.plays desc, aggregated.watched_sec desc,
                aggregated.level_content_id
        )) as popularity_rank
    from aggregated
    left join hierarchy on aggregated.level_content_id = hierarchy.content_id
    left join leveled_continuation
        on aggregated.level = leveled_continuation.level
        and aggregated.level_content_id = leveled_continuation.level_content_id
        and aggregated.view_date = leveled_continuation.view_date
)

select * from final
