{{
    config(
        order_by='(entry_date, entry_platform, person_id, content_id)',
        partition_by='toYYYYMM(entry_date)',
    )
}}

{#-
    A table rebuilt on every run, for the same reasons as fct_funnel_acquisition_persons; it reads
    the three event types of the funnel only.
-#}

{%- set steps = [
    {'name': 'title_page', 'event_type': 'title_page'},
    {'name': 'play', 'event_type': 'play'},
    {'name': 'complete', 'event_type': 'complete'},
] %}

-- One row per person and title whose page they opened: title page -> play -> complete of that title.
with

events as (
    select
        int_events.person_id as person_id,
        content_id,
        event_at,
        event_seq,
        event_type,
        platform,
        int_persons.acquisition_channel as acquisition_channel
    from {{ ref('int_events') }} as int_events
    left join {{ ref('int_persons') }} as int_persons on int_events.person_id = int_persons.person_id
    where event_type in ('title_page', 'play', 'complete') and content_id is not null
),

-- Each (person, title) is a funnel of its own; the best attempt counts (anchor 'best'), so a
-- title opened several times converts if any visit to its page led to a play and a completion.
funnel as (
    {{ funnel_persons(
        'events',
        steps,
        window_seconds=var('funnel_window_days', 30) * 86400,
        unit_columns=['content_id'],
        breakdowns=[
            {'name': 'entry_platform', 'expression': 'platform', 'attribution': 'first_touch'},
            {'name': 'play_platform', 'expression': 'platform', 'attribution': 'step', 'step': 'play'},
            {'name': 'acquisition_channel', 'expression': 'acquisition_channel'},
        ],
        as_of="(select max(last_event_at) from " ~ ref('fct_person_activity_daily') ~ ")",
    ) }}
),

final as (
    select
        person_id,
        assumeNotNull(content_id) as content_id,
        entered_at,
        toDate(entered_at) as entry_date,
        window_ends_at,
        furthest_step,
        cast(
            [{% for step in steps %}'{{ step.name }}'{{ ', ' if not loop.last }}{% endfor %}][furthest_step]
            as LowCardinality(String)
        ) as furthest_step_name,
        cast(is_converted as Bool) as is_converted,
        cast(is_in_progress as Bool) as is_in_progress,
        {%- for step in steps %}
        step_at[{{ loop.index }}] as {{ step.name }}_at,
        {%- endfor %}
        cast(entry_platform as LowCardinality(String)) as entry_platform,
        cast(if(play_platform = '', 'not played', play_platform) as LowCardinality(String)) as play_platform,
        cast(if(acquisition_channel = '', 'unknown', acquisition_channel) as LowCardinality(String))
            as acquisition_channel
    from funnel
)

select * from final
