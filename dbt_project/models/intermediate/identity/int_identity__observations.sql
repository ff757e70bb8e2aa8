-- One row per identifier sighting: an identifier (id_type, id_value) seen on a device (hub)
-- and/or together with a user id on one source record. Aggregated per distinct combination,
-- with the first time it was seen. The raw material of identity resolution.
with

metrica_visits as (
    select * from {{ ref('stg_yandex_metrica__visits') }}
),

metrica_hits as (
    select * from {{ ref('stg_yandex_metrica__hits') }}
),

app_events as (
    select * from {{ ref('stg_appmetrica__events') }}
),

app_sessions as (
    select * from {{ ref('stg_appmetrica__sessions_starts') }}
),

app_installations as (
    select * from {{ ref('stg_appmetrica__installations') }}
),

users as (
    select * from {{ ref('stg_auth_service__users') }}
),

logins as (
    select * from {{ ref('stg_auth_service__logins') }}
),

payments as (
    select * from {{ ref('stg_billing__payments') }}
),

subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

player_events as (
    select * from {{ ref('stg_player_logs__events') }}
),

-- Each branch: the identifiers on a record, the device hub it happened on (web:<ClientID>,
-- app:<AppMetrica device id>, tv:<TV id>; NULL when the record has no device) and the user id
-- the record carries (NULL when anonymous).
web_records as (
    select
        concat('web:', client_id) as hub,
        site_user_id as user_id,
        [
            ('metrica_client_id', client_id),
            ('metrica_user_id_hash', user_id_hash),
            ('yclid', yclid)
        ] as ids,
        started_at as seen_at
    from metrica_visits
    where client_id is not null
    union all
    select
        concat('web:', client_id),
        site_user_id,
        [('metrica_client_id', client_id), ('metrica_user_id_hash', user_id_hash)],
        hit_at
    from metrica_hits
    where client_id is not null
),

app_records as (
    select
        concat('app:', device_id) as hub,
        profile_id as user_id,
        [
            ('appmetrica_device_id', device_id),
            ('appmetrica_installation_id', installation_id),
            ('appmetrica_profile_id', profile_id),
            ('google_aid', google_aid),
            ('ios_ifa', ios_ifa),
            ('ios_ifv', ios_ifv)
        ] as ids,
        event_at as seen_at
    from app_events
    union all
    select
        concat('app:', device_id),
        profile_id,
        [
            ('appmetrica_device_id', device_id),
            ('appmetrica_installation_id', installation_id),
            ('appmetrica_profile_id', profile_id),
            ('google_aid', google_aid),
            ('ios_ifa', ios_ifa),
            ('ios_ifv', ios_ifv)
        ],
        started_at
    from app_sessions
    union all
    select
        concat('app:', device_id),
        profile_id,
        [
            ('appmetrica_device_id', device_id),
            ('appmetrica_installation_id', installation_id),
            ('appmetrica_profile_id', profile_id),
            ('google_aid', google_aid),
            ('ios_ifa', ios_ifa),
            ('ios_ifv', ios_ifv)
        ],
        installed_at
    from app_installations
),

auth_records as (
    select
        if(client_id is null, null, concat({{ platform_hub_prefix('platform') }}, client_id)) as hub,
        user_id,
        [
            ('user_id', user_id),
            (multiIf(platform = 'web', 'metrica_client_id', platform = 'smart_tv', 'tv_device_id', 'appmetrica_device_id'),
                client_id)
        ] as ids,
        logged_in_at as seen_at
    from logins
    union all
    select
        null,
        user_id,
        [('user_id', user_id), ('email_hash', email_hash)],
        registered_at
    from users
),

player_records as (
    select
        if(device_id is null, null, concat({{ platform_hub_prefix('platform') }}, device_id)) as hub,
        user_id,
        [
            ('player_device_id', device_id),
            ('player_user_id', user_id),
            (if(platform = 'smart_tv', 'tv_device_id', ''), if(platform = 'smart_tv', device_id, null))
        ] as ids,
        min(event_at) as seen_at
    from player_events
    group by all
),

billing_records as (
    select
        cast(null as Nullable(String)) as hub,
        user_id,
        [('billing_customer_id', user_id), ('payment_method_id', payment_method_id)] as ids,
        created_at as seen_at
    from payments
    union all
    select
        null,
        user_id,
        [('billing_customer_id', user_id), ('payment_method_id', payment_method_id)],
        coalesce(created_at, started_at)
    from subscriptions
),

records as (
    select hub, user_id, ids, seen_at from web_records
    union all
    select hub, user_id, ids, seen_at from app_records
    union all
    select hub, user_id, ids, seen_at from auth_records
    union all
    select hub, user_id, ids, seen_at from player_records
    union all
    select hub, user_id, ids, seen_at from billing_records
),

exploded as (
    select
        tupleElement(id, 1) as id_type,
        tupleElement(id, 2) as id_value,
        hub,
        user_id,
        seen_at
    from records
    array join ids as id
    where tupleElement(id, 2) is not null and tupleElement(id, 2) != '' and tupleElement(id, 1) != ''
),

final as (
    select
        cast(id_type as LowCardinality(String)) as id_type,
        assumeNotNull(id_value) as id_value,
        hub,
        user_id,
        min(toDateTime64(seen_at, 3, 'UTC')) as first_seen_at,
        count() as sightings
    from exploded
    group by id_type, id_value, hub, user_id
)

select * from final
