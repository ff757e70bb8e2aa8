{{
    config(
        order_by='(entry_date, acquisition_channel, person_id)',
        partition_by='toYYYYMM(entry_date)',
    )
}}

{#-
    A table rebuilt on every run: a person's row changes with any new event inside a window that
    can be months long, and identity resolution can merge two people's histories. It reads only
    the five event types of the funnel, a small share of int_events.
-#}

{%- set steps = [
    {'name': 'visit', 'event_type': 'visit'},
    {'name': 'registration', 'event_type': 'registration'},
    {'name': 'trial_start', 'event_type': 'trial_start', 'optional': true},
    {'name': 'first_payment', 'event_type': 'first_payment'},
    {'name': 'renewal', 'event_type': 'renewal',
     'max_gap_seconds': var('funnel_renewal_max_gap_days', 35) * 86400},
] %}

-- One row per person with a visit: their acquisition funnel from the first visit on.
with

events as (
    select
        int_events.person_id as person_id,
        event_at,
        event_seq,
        event_type,
        platform,
        channel,
        int_persons.acquisition_channel as acquisition_channel
    from {{ ref('int_events') }} as int_events
    left join {{ ref('int_persons') }} as int_persons on int_events.person_id = int_persons.person_id
    where event_type in ('visit', 'registration', 'trial_start', 'first_payment', 'renewal', 'refund')
),

-- The first visit opens the funnel (anchor 'first'), so each person is counted once, in the
-- cohort of the day they arrived. Premium plans have no trial, hence the optional step; the
-- renewal must be the first period's (within the max gap of the first payment), and a refund
-- in between means the first payment did not lead to a renewal.
funnel as (
    {{ funnel_persons(
        'events',
        steps,
        window_seconds=var('funnel_acquisition_window_days', 45) * 86400,
        anchor='first',
        exclusions=[{'event_type': 'refund', 'from_step': 'first_payment', 'to_step': 'renewal'}],
        breakdowns=[
            {'name': 'acquisition_channel', 'expression': 'acquisition_channel'},
            {'name': 'entry_channel', 'expression': 'channel', 'attribution': 'first_touch'},
            {'name': 'entry_platform', 'expression': 'platform', 'attribution': 'first_touch'},
            {'name': 'registration_platform', 'expression': 'platform', 'attribution': 'step',
             'step': 'registration'},
        ],
        as_of="(select max(last_event_at) from " ~ ref('fct_person_activity_daily') ~ ")",
    ) }}
),

final as (
    select
        person_id,
        entered_at,
        toDate(entered_at) as entry_date,
        window_ends_at,
        furthest_step,
        cast(
            [{% for step in steps %}'{{ step.name }}'{{ ', ' if not loop.last }}{% endfor %}][furthest_step]
            as LowCardinality(String)
        ) as furthest_step_name,
        steps_completed,
        cast(is_converted as Bool) as is_converted,
        cast(is_in_progress as Bool) as is_in_progress,
        {%- for step in steps %}
        step_at[{{ loop.index }}] as {{ step.name }}_at,
        {%- endfor %}
        cast(if(acquisition_channel = '', 'unknown', acquisition_channel) as LowCardinality(String))
            as acquisition_channel,
        cast(if(entry_channel = '', 'unknown', entry_channel) as LowCardinality(String)) as entry_channel,
        cast(entry_platform as LowCardinality(String)) as entry_platform,
        cast(if(registration_platform = '', 'not registered', registration_platform) as LowCardinality(String))
            as registration_platform
    from funnel
)

select * from final
