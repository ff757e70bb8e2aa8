-- Ad-hoc funnel: one row per person. Search, title page and play within one day, in any
-- order: step k of the result is the k-th of the three done (time of the k-th distinct one).
{%- set steps = [
    {'name': 'search', 'event_type': 'search'},
    {'name': 'title_page', 'event_type': 'title_page'},
    {'name': 'play', 'event_type': 'play'},
] %}

with

events as (
    select person_id, event_at, event_seq, event_type from {{ ref('int_events') }}
),

funnel as (
    {{ funnel_persons('events', steps, window_seconds=86400, mode='any') }}
)

select * from funnel
