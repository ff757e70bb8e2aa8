{{ config(
    materialized='table',
    engine='MergeTree()',
    order_by='(device_type, hub)',
) }}
-- One row per device hub (a browser's Metrica ClientID, an app device, a TV) with the
-- registered users seen on it and the person its anonymous touches belong to. Rebuilt whole on
-- every run: one new login can re-link a device seen months ago, and the table is small
-- (one row per device).
with

observations as (
    select * from {{ ref('int_identity__observations') }}
),

users as (
    select user_id from {{ ref('stg_auth_service__users') }}
),

hub_first_seen as (
    select
        hub,
        min(first_seen_at) as first_seen_at
    from observations
    where hub is not null
    group by hub
),

-- Only user ids the auth service knows anchor anyone; an unknown one (a login of a deleted
-- user, a user the auth load has not brought yet) is just another identifier of its device.
hub_users as (
    select
        hub,
        user_id,
        min(first_seen_at) as user_first_seen_at
    from observations
    where hub is not null and user_id in (select user_id from users)
    group by hub, user_id
),

hub_user_counts as (
    select
        hub,
        count() as user_count,
        -- The owner is the first registered user seen on the device.
        argMin(user_id, (user_first_seen_at, user_id)) as owner_user_id,
        arraySort(groupArray(user_id)) as user_ids
    from hub_users
    group by hub
),

final as (
    select
        cast(splitByChar(':', hub)[1] as LowCardinality(String)) as device_type,
        assumeNotNull(hub) as hub,
        substring(hub, position(hub, ':') + 1) as device_id,
        coalesce(counts.user_count, 0) as user_count,
        if(counts.user_count > 0, counts.owner_user_id, null) as owner_user_id,
        if(counts.user_count > 0, counts.user_ids, []) as user_ids,
        cast(coalesce(counts.user_count, 0) > {{ var('shared_device_max_people', 1) }} as Bool) as is_shared,
        assumeNotNull(if(
            counts.user_count > 0,
            {{ user_person_id('counts.owner_user_id') }},
            {{ anonymous_person_id('hubs.hub') }}
        )) as person_id,
        toDateTime64(assumeNotNull(hubs.first_seen_at), 3, 'UTC') as first_seen_at
    from hub_first_seen as hubs
    left join hub_user_counts as counts on hubs.hub = counts.hub
)

select * from final
