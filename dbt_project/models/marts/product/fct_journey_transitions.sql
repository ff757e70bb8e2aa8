{{
    config(
        order_by='(anchor_event, step_number, from_event, to_event)',
    )
}}

{#- A table rebuilt on every run, like fct_journey_paths. -#}

{%- set max_depth = var('journey_max_depth', 6) %}

-- One row per anchor event, step number and transition (from event -> to event): Sankey edges.
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

-- Edge n joins node n to node n + 1. A path that stops before max_depth nodes (no further event
-- inside the window) ends with an edge to '(end)', so the edges leaving step n add up to the
-- people who reached it; a path cut at max_depth has no last edge.
edges as (
    select
        person_id,
        anchor_event,
        step_number,
        from_nodes[step_number].2 as from_event,
        if(step_number < length(from_nodes), from_nodes[step_number + 1].2, '(end)') as to_event,
        if(
            step_number < length(from_nodes),
            from_nodes[step_number + 1].1 - from_nodes[step_number].1,
            null
        ) as ms_to_next
    from person_paths
    array join range(1, least(length(from_nodes), {{ max_depth }}) + 1) as step_number
    where step_number < length(from_nodes) or length(from_nodes) <= {{ max_depth }}
),

final as (
    select
        cast(anchor_event as LowCardinality(String)) as anchor_event,
        toUInt8(step_number) as step_number,
        cast(from_event as LowCardinality(String)) as from_event,
        cast(to_event as LowCardinality(String)) as to_event,
        count() as persons,
        -- Integer milliseconds: the same sums, hence the same means, on every run.
        medianExact(ms_to_next) / 1000 as median_seconds,
        avg(ms_to_next) / 1000 as mean_seconds
    from edges
    group by anchor_event, step_number, from_event, to_event
)

select * from final
