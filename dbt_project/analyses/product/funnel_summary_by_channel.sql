-- Ad-hoc funnel with step figures: visit -> registration -> first payment within 14 days,
-- by acquisition channel and entry week, for people who entered in the last 8 weeks of data.
{%- set steps = [
    {'name': 'visit', 'event_type': 'visit'},
    {'name': 'registration', 'event_type': 'registration'},
    {'name': 'first_payment', 'event_type': 'first_payment'},
] %}

with

events as (
    select
        int_events.person_id as person_id,
        event_at,
        event_seq,
        event_type,
        int_persons.acquisition_channel as acquisition_channel
    from {{ ref('int_events') }} as int_events
    left join {{ ref('int_persons') }} as int_persons on int_events.person_id = int_persons.person_id
    where event_type in ('visit', 'registration', 'first_payment')
),

persons as (
    select
        *,
        toMonday(entered_at) as entry_week
    from (
        {{ funnel_persons(
            'events',
            steps,
            window_seconds=14 * 86400,
            breakdowns=[{'name': 'acquisition_channel', 'expression': 'acquisition_channel'}],
        ) }}
    )
    where entered_at >= (select max(event_at) from events) - interval 8 week
),

summary as (
    {{ funnel_summary('persons', steps, ['acquisition_channel', 'entry_week']) }}
)

select * from summary
order by acquisition_channel, entry_week, step_index
