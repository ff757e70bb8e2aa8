-- The `from` paths of fct_journey_paths that begin with steps s1..sk count exactly the people
-- a strict funnel s1 -> ... -> sk, anchored at the first s1, over the journey event types and
-- window, counts at step k. Returns the (sequence, step) pairs where the two disagree.
{%- set event_types = var('journey_event_types', journey_default_event_types()) %}
{%- set anchors = var('journey_anchor_events', journey_default_anchors()) %}
{%- set candidates = [
    ['visit', 'title_page', 'play', 'complete'],
    ['registration', 'trial_start', 'title_page'],
    ['first_payment', 'title_page', 'play'],
] %}
{%- set sequences = [] %}
{%- for sequence in candidates if sequence[0] in anchors and sequence | reject('in', event_types) | list | length == 0 %}
    {%- do sequences.append(sequence) %}
{%- endfor %}

with

events as (
    select person_id, event_at, event_seq, event_type from {{ ref('int_events') }}
),

{%- for sequence in sequences %}
{%- set steps = [] %}
{%- for event_type in sequence %}
    {%- do steps.append({'name': 's' ~ loop.index, 'event_type': event_type}) %}
{%- endfor %}

funnel_{{ loop.index }} as (
    {{ funnel_persons(
        'events',
        steps,
        window_seconds=var('funnel_window_days', 30) * 86400,
        mode='strict',
        anchor='first',
        events_where="event_type in ('" ~ event_types | join("', '") ~ "')",
    ) }}
),

{%- endfor %}

funnel_counts as (
    select '' as anchor_event, '' as path, 0 as funnel_persons where false
    {%- for sequence in sequences %}
    {%- set outer = loop %}
    {%- for event_type in sequence %}
    union all
    select
        '{{ sequence[0] }}' as anchor_event,
        '{{ sequence[:loop.index] | join(" > ") }}' as path,
        countIf(furthest_step >= {{ loop.index }}) as funnel_persons
    from funnel_{{ outer.index }}
    {%- endfor %}
    {%- endfor %}
),

path_counts as (
    select
        anchor_event,
        path,
        persons as path_persons
    from {{ ref('fct_journey_paths') }}
    where direction = 'from'
),

final as (
    select
        funnel_counts.path as path,
        funnel_counts.funnel_persons as funnel_persons,
        path_counts.path_persons as path_persons
    from funnel_counts
    left join path_counts
        on funnel_counts.anchor_event = path_counts.anchor_event and funnel_counts.path = path_counts.path
    -- A path nobody took has no row: it counts 0 (the left join's default).
    where funnel_counts.funnel_persons != path_counts.path_persons
)

select * from final
