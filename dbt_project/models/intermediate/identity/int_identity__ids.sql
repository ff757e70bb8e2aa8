{{ config(
    materialized='table',
    engine='MergeTree()',
    order_by='(id_type, id_value)',
) }}
-- One row per identifier (id_type, id_value) with the person it belongs to. Rebuilt whole on
-- every run (a new login re-attributes identifiers of any age); small: one row per identifier.
with

observations as (
    select * from {{ ref('int_identity__observations') }}
),

devices as (
    select * from {{ ref('int_identity__devices') }}
),

users as (
    select user_id from {{ ref('stg_auth_service__users') }}
),

identifiers as (
    select
        id_type,
        id_value,
        min(first_seen_at) as first_seen_at
    from observations
    group by id_type, id_value
),

-- Identifiers whose value is the user id itself (the auth id, AppMetrica's profile id, the
-- player's user_id, billing's customer reference).
own_user as (
    select
        id_type,
        id_value,
        id_value as own_user_id
    from identifiers
    where id_type in ('user_id', 'appmetrica_profile_id', 'player_user_id', 'billing_customer_id')
        and id_value in (select user_id from users)
),

-- User-level identifiers that name a user only through the records they appear on
-- (Metrica's user-id hash beside the site's user_id parameter, the e-mail hash, a saved card).
linked_user as (
    select
        id_type,
        id_value,
        argMin(user_id, (first_seen_at, user_id)) as linked_user_id
    from observations
    where id_type in ('metrica_user_id_hash', 'email_hash', 'payment_method_id')
        and user_id in (select user_id from users)
    group by id_type, id_value
),

-- Every other identifier follows the device it was first seen on.
on_device as (
    select
        observations.id_type as id_type,
        observations.id_value as id_value,
        argMin(devices.person_id, (observations.first_seen_at, observations.hub)) as device_person_id,
        argMin(devices.hub, (observations.first_seen_at, observations.hub)) as first_hub,
        max(devices.is_shared) as on_shared_device
    from observations
    inner join devices on observations.hub = devices.hub
    group by observations.id_type, observations.id_value
),

resolved as (
    select
        identifiers.id_type as id_type,
        identifiers.id_value as id_value,
        multiIf(
            coalesce(own_user.own_user_id, '') != '', {{ user_person_id('own_user.own_user_id') }},
            coalesce(linked_user.linked_user_id, '') != '', {{ user_person_id('linked_user.linked_user_id') }},
            coalesce(on_device.device_person_id, '') != '', on_device.device_person_id,
            {{ anonymous_person_id("concat(identifiers.id_type, ':', identifiers.id_value)") }}
        ) as person_id,
        multiIf(
            coalesce(own_user.own_user_id, '') != '', 'user_id',
            coalesce(linked_user.linked_user_id, '') != '', 'linked_user',
            coalesce(on_device.device_person_id, '') != '', 'device',
            'alone'
        ) as resolved_by,
        nullIf(coalesce(on_device.first_hub, ''), '') as hub,
        -- Only device identifiers can be shared; a user-level id belongs to its user.
        coalesce(own_user.own_user_id, '') = '' and coalesce(linked_user.linked_user_id, '') = '' and coalesce(on_device.on_shared_device, false) as is_shared,
        identifiers.first_seen_at as first_seen_at
    from identifiers
    left join own_user
        on identifiers.id_type = own_user.id_type and identifiers.id_value = own_user.id_value
    left join linked_user
        on identifiers.id_type = linked_user.id_type and identifiers.id_value = linked_user.id_value
    left join on_device
        on identifiers.id_type = on_device.id_type and identifiers.id_value = on_device.id_value
),

final as (
    select
        cast(id_type as LowCardinality(String)) as id_type,
        id_value,
        assumeNotNull(person_id) as person_id,
        cast(is_shared as Bool) as is_shared,
        toDateTime64(assumeNotNull(first_seen_at), 3, 'UTC') as first_seen_at,
        cast(resolved_by as LowCardinality(String)) as resolved_by,
        hub
    from resolved
)

select * from final
