{#-
    Journeys: each person's events of `event_types` in (event_at, event_seq) order, with runs of
    the same event type collapsed into their first event, anchored at the first occurrence of each
    of `anchors` ('(start)' = the person's first event). For every (person, anchor) it returns the
    path from the anchor (`from_nodes`, at most max_depth + 1 nodes, none more than `window_ms`
    after the anchor) and the path to it (`to_nodes`, at most max_depth nodes ending at the
    anchor, none more than `window_ms` before it), as arrays of (epoch ms, event type).
    A 'from' path of k nodes is what a strict funnel anchored at the first anchor event, over the
    same event types and window, counts as reaching step k: fct_journey_paths and
    fct_journey_transitions reconcile with funnel_persons(mode='strict', anchor='first').
    Documented in macros/product/_product__macros.yml.
-#}

{% macro journey_person_paths(events, event_types, anchors, max_depth, window_ms) %}
with

journey_events as (
    select
        person_id,
        {#- Whole tuples sorted: equal (time, seq) pairs still come out in one order. -#}
        arraySort(groupArray((toUnixTimestamp64Milli(event_at), event_seq, toString(event_type)))) as journey
    from {{ events }}
    where event_type in ('{{ event_types | join("', '") }}')
    group by person_id
),

journey_collapsed as (
    select
        person_id,
        arrayMap(
            e -> (e.1, e.3),
            arrayFilter((e, i) -> i = 1 or e.3 != journey[i - 1].3, journey, arrayEnumerate(journey))
        ) as nodes
    from journey_events
),

journey_anchored as (
    select
        person_id,
        anchor_event,
        nodes,
        if(anchor_event = '(start)', 1, arrayFirstIndex(n -> n.2 = anchor_event, nodes)) as anchor_index,
        nodes[anchor_index].1 as anchor_ms
    from journey_collapsed
    array join ['{{ anchors | join("', '") }}'] as anchor_event
    where anchor_index > 0
),

journey_person_paths as (
    select
        person_id,
        anchor_event,
        arrayFilter(
            n -> n.1 - anchor_ms <= {{ window_ms }},
            arraySlice(nodes, anchor_index, {{ max_depth + 1 }})
        ) as from_nodes,
        arrayFilter(
            n -> anchor_ms - n.1 <= {{ window_ms }},
            arraySlice(nodes, greatest(1, anchor_index - {{ max_depth - 1 }}), least(anchor_index, {{ max_depth }}))
        ) as to_nodes
    from journey_anchored
)

select * from journey_person_paths
{% endmacro %}


{#- Event types journeys follow by default: every touch but page and screen views and
    valid_play, which would repeat between almost every pair of steps. -#}
{% macro journey_default_event_types() %}
    {{ return([
        'visit', 'app_install', 'search', 'title_page', 'registration', 'login', 'trial_start',
        'first_payment', 'renewal', 'reactivation', 'payment_failed', 'refund', 'cancellation',
        'subscription_end', 'play', 'complete',
    ]) }}
{% endmacro %}


{#- Anchors of journeys by default: the person's first event and the milestones of a subscriber. -#}
{% macro journey_default_anchors() %}
    {{ return(['(start)', 'visit', 'title_page', 'registration', 'first_payment', 'cancellation']) }}
{% endmacro %}
