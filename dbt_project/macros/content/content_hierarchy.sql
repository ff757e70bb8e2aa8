{#
    Query of every catalogue item with its place in the hierarchy, for joining views to their
    roll-ups: content_id, content_type, title, season_id / series_id ('' when none), title_id
    (the costed catalogue title a view belongs to: the series of an episode, a film itself),
    next_content_id (the next episode of the series in (season, episode) order; '' for films,
    seasons, series and a series' last episode).
#}
{% macro content_hierarchy(catalogue) -%}
    select
        content_id,
        cast(ifNull(content_type, 'unknown') as LowCardinality(String)) as content_type,
        ifNull(title, '') as title,
        if(content_type = 'episode', ifNull(parent_id, ''), if(content_type = 'season', content_id, ''))
            as season_id,
        multiIf(
            content_type in ('episode', 'season'), ifNull(series_id, ''),
            content_type = 'series', content_id,
            ''
        ) as series_id,
        if(content_type in ('episode', 'season'), ifNull(series_id, content_id), content_id) as title_id,
        season_number,
        episode_number,
        is_original,
        is_free,
        if(
            content_type = 'episode',
            leadInFrame(content_id, 1, '') over (
                partition by if(content_type = 'episode', ifNull(series_id, ''), '')
                order by content_type = 'episode' desc, season_number, episode_number, content_id
                rows between unbounded preceding and unbounded following
            ),
            ''
        ) as next_content_id
    from {{ catalogue }}
{%- endmacro %}
