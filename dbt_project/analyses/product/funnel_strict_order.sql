-- Ad-hoc funnel: one row per person. Visit, then straight to a title page, then straight to a
-- play: in strict mode nothing may come between two steps but repeats of the step just done.
-- Page and screen views would come between almost every two steps, so only the journey event
-- types count as events here (events_where). Anchored at the first visit.
{%- set steps = [
    {'name': 'visit', 'event_type': 'visit'},
    {'name': 'title_page', 'event_type': 'title_page'},
    {'name': 'play', 'event_type': 'play'},
] %}

with

events as (
    select person_id, event_at, event_seq, event_type from {{ ref('int_events') }}
),

funnel as (
    {{ funnel_persons(
        'events',
        steps,
        mode='strict',
        anchor='first',
        events_where="event_type in ('" ~ journey_default_event_types() | join("', '") ~ "')",
    ) }}
)

select * from funnel
