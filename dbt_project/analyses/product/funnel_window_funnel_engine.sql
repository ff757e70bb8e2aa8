-- Ad-hoc funnel on ClickHouse's windowFunnel: one row per person with the furthest step and
-- whether they are still in progress (no step times). Fast for plain ordered funnels; gives the
-- same levels as the arrays engine (tests/singular/marts/product/assert_funnel_engines_agree).
{%- set steps = [
    {'name': 'visit', 'event_type': 'visit'},
    {'name': 'registration', 'event_type': 'registration'},
    {'name': 'trial_start', 'event_type': 'trial_start'},
    {'name': 'first_payment', 'event_type': 'first_payment'},
] %}

with

events as (
    select person_id, event_at, event_seq, event_type from {{ ref('int_events') }}
),

funnel as (
    {{ funnel_persons('events', steps, engine='window_funnel') }}
)

select * from funnel
