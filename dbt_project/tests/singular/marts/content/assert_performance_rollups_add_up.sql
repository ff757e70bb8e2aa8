-- Season and series rows of fct_content_performance hold exactly the plays, valid plays,
-- complete plays, watch time and continuation counts of their episodes' title rows that day.
-- Returns mismatching rows.
with

episodes as (
    select content_id, parent_id as season_id, series_id
    from {{ ref('stg_content_catalog__content') }}
    where content_type = 'episode'
),

expected as (
    select
        level_pair.1 as level,
        level_pair.2 as content_id,
        performance.view_date as view_date,
        sum(performance.plays) as plays,
        sum(performance.valid_plays) as valid_plays,
        sum(performance.complete_plays) as complete_plays,
        sum(performance.watch_hours) as watch_hours,
        sum(performance.continuation_viewers) as continuation_viewers,
        sum(performance.continued_viewers) as continued_viewers
    from {{ ref('fct_content_performance') }} as performance
    inner join episodes on performance.content_id = episodes.content_id
    array join [('season', episodes.season_id), ('series', episodes.series_id)] as level_pair
    where performance.level = 'title'
    group by level, content_id, view_date
)

select
    expected.level as level,
    expected.content_id as content_id,
    expected.view_date as view_date,
    expected.plays as expected_plays,
    actual.plays as plays
from expected
left join (
    select * from {{ ref('fct_content_performance') }} where level in ('season', 'series')
) as actual
    on expected.level = actual.level
    and expected.content_id = actual.content_id
    and expected.view_date = actual.view_date
where expected.plays != actual.plays
    or expected.valid_plays != actual.valid_plays
    or expected.complete_plays != actual.complete_plays
    or abs(expected.watch_hours - actual.watch_hours) > 1e-6
    or expected.continuation_viewers != actual.continuation_viewers
    or expected.continued_viewers != actual.continued_viewers
