-- Sankey edges balance: the edges leaving step n (the end included) carry as many people as
-- reached step n, i.e. as many as entered it from step n - 1, and as many as the paths of
-- depth n in fct_journey_paths. Returns the anchors and steps where they do not.
with

transitions as (
    select * from {{ ref('fct_journey_transitions') }}
),

paths as (
    select * from {{ ref('fct_journey_paths') }} where direction = 'from'
),

leaving as (
    select anchor_event, step_number, sum(persons) as persons_leaving
    from transitions
    group by anchor_event, step_number
),

arriving as (
    select anchor_event, toUInt8(step_number + 1) as step_number, sum(persons) as persons_arriving
    from transitions
    where to_event != '(end)'
    group by anchor_event, step_number
),

at_depth as (
    select anchor_event, path_depth as step_number, sum(persons) as persons_at_depth
    from paths
    group by anchor_event, path_depth
),

final as (
    select
        at_depth.anchor_event as anchor_event,
        at_depth.step_number as step_number,
        persons_at_depth,
        leaving.persons_leaving as persons_leaving,
        arriving.persons_arriving as persons_arriving
    from at_depth
    left join leaving
        on at_depth.anchor_event = leaving.anchor_event and at_depth.step_number = leaving.step_number
    left join arriving
        on at_depth.anchor_event = arriving.anchor_event and at_depth.step_number = arriving.step_number
    where persons_at_depth != persons_leaving
        or (at_depth.step_number > 1 and persons_at_depth != persons_arriving)
)

select * from final
