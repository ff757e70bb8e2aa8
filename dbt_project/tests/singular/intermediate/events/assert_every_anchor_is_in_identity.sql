-- Every touch's person comes from identity resolution: its anchor identifier is in
-- int_identity__ids and maps to the same person.
with

events as (
    select * from {{ ref('int_events') }}
),

identity as (
    select * from {{ ref('int_identity__ids') }}
),

final as (
    select
        events.event_id,
        events.anchor_id_type,
        events.anchor_id_value,
        events.person_id,
        identity.person_id as identity_person_id
    from events
    left join identity
        on events.anchor_id_type = identity.id_type and events.anchor_id_value = identity.id_value
    where coalesce(identity.person_id, '') != events.person_id
)

select * from final
