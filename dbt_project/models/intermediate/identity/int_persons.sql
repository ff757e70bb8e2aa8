{{ config(
    materialized='table',
    engine='MergeTree()',
    order_by='person_id',
) }}
-- One row per person: everyone identity resolution found, registered or not, with when and
-- where they were first seen and the channel that brought them. Rebuilt whole on every run:
-- a re-attributed touch can change anyone's first touch, and there is one row per person.
with

identity as (
    select * from {{ ref('int_identity__ids') }}
),

events as (
    select * from {{ ref('int_events') }}
),

users as (
    select * from {{ ref('stg_auth_service__users') }}
),

payments as (
    select * from {{ ref('stg_billing__payments') }}
),

identity_persons as (
    select
        person_id,
        min(first_seen_at) as ids_first_seen_at,
        anyIf(id_value, id_type = 'user_id' and resolved_by = 'user_id') as anchor_user_id,
        count() as identifier_count,
        countIf(id_type in ('metrica_client_id', 'appmetrica_device_id', 'tv_device_id')) as device_count
    from identity
    group by person_id
),

event_persons as (
    select
        person_id,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        argMin(platform, (event_at, event_seq)) as first_event_platform,
        -- The first touch that carries channel attributes (a web visit, an app install). One
        -- tuple, because argMin skips NULL values: separate calls could take a tag from a
        -- later touch than the channel.
        argMinIf(
            (channel, utm_source, utm_medium, utm_campaign), (event_at, event_seq), channel is not null
        ) as first_touch_tags,
        first_touch_tags.1 as first_channel,
        first_touch_tags.2 as first_utm_source,
        first_touch_tags.3 as first_utm_medium,
        first_touch_tags.4 as first_utm_campaign,
        minIf(event_at, event_type in ('first_payment', 'renewal', 'reactivation')) as first_paid_event_at,
        count() as event_count
    from events
    group by person_id
),

test_users as (
    select distinct user_id from payments where is_test and user_id is not null
),

persons as (
    select person_id from identity_persons
    union distinct
    select person_id from event_persons
),

final as (
    select
        assumeNotNull(persons.person_id) as person_id,
        nullIf(coalesce(identity_persons.anchor_user_id, ''), '') as user_id,
        cast(coalesce(identity_persons.anchor_user_id, '') != '' as Bool) as is_registered,
        toDateTime64(least(
            coalesce(event_persons.first_event_at, identity_persons.ids_first_seen_at),
            coalesce(identity_persons.ids_first_seen_at, event_persons.first_event_at)
        ), 3, 'UTC') as first_seen_at,
        toDate(first_seen_at) as first_seen_date,
        cast(coalesce(nullIf(event_persons.first_event_platform, ''), 'web') as LowCardinality(String)) as first_platform,
        -- Without any attributed touch a person came directly.
        cast(coalesce(event_persons.first_channel, 'direct') as LowCardinality(String)) as acquisition_channel,
        event_persons.first_utm_source as acquisition_source,
        event_persons.first_utm_medium as acquisition_medium,
        event_persons.first_utm_campaign as acquisition_campaign,
        users.registered_at as registered_at,
        if(
            event_persons.first_paid_event_at > toDateTime64(0, 3, 'UTC'),
            toDateTime64(event_persons.first_paid_event_at, 3, 'UTC'),
            null
        ) as first_paid_at,
        toDateTime64(event_persons.last_event_at, 3, 'UTC') as last_seen_at,
        coalesce(event_persons.event_count, 0) as events,
        coalesce(identity_persons.identifier_count, 0) as identifiers,
        coalesce(identity_persons.device_count, 0) as devices,
        cast(coalesce(identity_persons.anchor_user_id, '') in (select user_id from test_users) as Bool)
            as is_test_account
    from persons
    left join identity_persons on persons.person_id = identity_persons.person_id
    left join event_persons on persons.person_id = event_persons.person_id
    left join users on identity_persons.anchor_user_id = users.user_id
)

select * from final
