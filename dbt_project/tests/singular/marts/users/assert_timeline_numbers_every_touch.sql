-- fct_user_timeline holds every touch of int_events once, and numbers each person's touches
-- 1..n without gaps in (event_at, event_seq) order. Returns a row per person where it does not.
with

events as (
    select person_id, count() as touches from {{ ref('int_events') }} group by person_id
),

timeline as (
    select
        person_id,
        count() as touches,
        min(seq) as first_seq,
        max(seq) as last_seq,
        uniqExact(seq) as distinct_seqs,
        -- seq must follow the touch order: sorted by seq, (event_at, event_seq) never decreases.
        arrayMap(t -> (t.2, t.3), arraySort(t -> t.1, groupArray((seq, event_at, event_seq)))) as ordered
    from {{ ref('fct_user_timeline') }}
    group by person_id
),

final as (
    select
        coalesce(events.person_id, timeline.person_id) as person_id,
        events.touches as event_touches,
        timeline.touches as timeline_touches,
        timeline.first_seq as first_seq,
        timeline.last_seq as last_seq,
        timeline.distinct_seqs as distinct_seqs,
        timeline.ordered = arraySort(timeline.ordered) as is_in_order
    from events
    full outer join timeline on events.person_id = timeline.person_id
    settings join_use_nulls = 1
)

select * from final
where event_touches is null
    or timeline_touches is null
    or event_touches != timeline_touches
    or first_seq != 1
    or last_seq != timeline_touches
    or distinct_seqs != timeline_touches
    or not is_in_order
