-- The arrays engine and the windowFunnel engine of funnel_persons give every person the same
-- furthest step and in-progress flag on a plain ordered funnel. Returns the people they
-- disagree on.
{%- set steps = [
    {'name': 'visit', 'event_type': 'visit'},
    {'name': 'title_page', 'event_type': 'title_page'},
    {'name': 'play', 'event_type': 'play'},
    {'name': 'complete', 'event_type': 'complete'},
] %}

with

events as (
    select person_id, event_at, event_seq, event_type from {{ ref('int_events') }}
),

by_arrays as (
    {{ funnel_persons('events', steps) }}
),

by_window_funnel as (
    {{ funnel_persons('events', steps, engine='window_funnel') }}
),

final as (
    select
        by_arrays.person_id as person_id,
        by_arrays.furthest_step as arrays_step,
        by_window_funnel.furthest_step as window_funnel_step,
        by_arrays.is_in_progress as arrays_in_progress,
        by_window_funnel.is_in_progress as window_funnel_in_progress
    from by_arrays
    full outer join by_window_funnel on by_arrays.person_id = by_window_funnel.person_id
    where arrays_step != window_funnel_step or arrays_in_progress != window_funnel_in_progress
)

select * from final
