{{
    config(
        order_by='(direction, anchor_event, path_depth, path_rank)',
    )
}}

{#-
    A table rebuilt on every run: every person's path is re-read (a new event extends a path that
    may have started months ago). Its size is bounded by people x anchors x depth.
-#}

{%- set max_depth = var('journey_max_depth', 6) %}

-- One row per direction (from / to the anchor), anchor event, depth and path of that many nodes.
with

events as (
    select person_id, event_at, event_seq, event_type from {{ ref('int_events') }}
),

person_paths as (
    {{ journey_person_paths(
        'events',
        var('journey_event_types', journey_default_event_types()),
        var('journey_anchor_events', journey_default_anchors()),
        max_depth,
        var('funnel_window_days', 30) * 86400 * 1000,
    ) }}
),

-- Each person's path contributes its prefix (from the anchor) or its suffix (to the anchor) of
-- every depth up to its length: summing the paths of one depth gives the people who got that far.
prefixes as (
    select
        person_id,
        'from' as direction,
        anchor_event,
        depth,
        arraySlice(from_nodes, 1, depth) as path_nodes
    from person_paths
    array join range(1, least(length(from_nodes), {{ max_depth }}) + 1) as depth
    union all
    select
        person_id,
        'to' as direction,
        anchor_event,
        depth,
        arraySlice(to_nodes, -depth) as path_nodes
    from person_paths
    array join range(1, length(to_nodes) + 1) as depth
    where anchor_event != '(start)'
),

aggregated as (
    select
        direction,
        anchor_event,
        toUInt8(depth) as path_depth,
        arrayMap(n -> n.2, path_nodes) as path_events_key,
        count() as path_persons,
        medianExact(path_nodes[-1].1 - path_nodes[1].1) / 1000 as path_median_seconds
    from prefixes
    group by direction, anchor_event, depth, path_events_key
),

final as (
    select
        cast(direction as LowCardinality(String)) as direction,
        cast(anchor_event as LowCardinality(String)) as anchor_event,
        path_depth,
        toUInt32(row_number() over (
            partition by direction, anchor_event, path_depth
            order by path_persons desc, path_events_key
        )) as path_rank,
        arrayStringConcat(path_events_key, ' > ') as path,
        cast(path_events_key as Array(LowCardinality(String))) as path_events,
        path_persons as persons,
        round(path_persons / sum(path_persons) over (partition by direction, anchor_event, path_depth), 4)
            as share_of_depth,
        path_median_seconds as median_seconds
    from aggregated
)

select * from final
