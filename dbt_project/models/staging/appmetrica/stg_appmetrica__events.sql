-- One row per AppMetrica event. The API has no event id: the event key is a hash of what
-- identifies it (device, session, instant, name, attributes), the same identity the raw layer uses.
with

source as (
    select
        *,
        lower(hex(sipHash128(
            toString(appmetrica_device_id), toString(session_id), event_timestamp, event_name, coalesce(event_json, '')
        ))) as event_key
    from {{ source('appmetrica', 'events') }}
),

deduplicated as (
    select * from source
    order by _loaded_at desc, _row_hash desc
    limit 1 by event_key
),

renamed as (
    select
        event_key as event_id,
        application_id,
        toString(toUInt64(appmetrica_device_id)) as device_id,
        nullIf(installation_id, '') as installation_id,
        nullIf(profile_id, '') as profile_id,
        {{ id_text('session_id') }} as app_session_id,
        event_name,
        nullIf(event_json, '') as event_json,
        -- event_timestamp is the exact instant; the *_datetime fields are derived from it.
        toDateTime64(event_timestamp, 3, 'UTC') as event_at,
        toDate(toDateTime(event_timestamp, 'UTC')) as event_date,
        {{ to_utc_ms('event_receive_datetime') }} as received_at,
        -- The app's own screen and title attributes.
        nullIf(JSONExtractString(coalesce(event_json, ''), 'screen'), '') as screen_name,
        nullIf(toString(JSONExtractInt(coalesce(event_json, ''), 'content_id')), '0') as content_id,
        nullIf(JSONExtractString(coalesce(event_json, ''), 'query'), '') as search_query,
        if(os_name = 'ios', 'ios', 'android') as platform,
        os_name,
        os_version,
        device_model,
        device_type,
        nullIf(google_aid, '') as google_aid,
        -- A zeroed IDFA means limited ad tracking: it identifies nobody.
        nullIf(nullIf(ios_ifa, ''), '00000000-0000-0000-0000-000000000000') as ios_ifa,
        nullIf(ios_ifv, '') as ios_ifv,
        app_version_name,
        -- Debug builds report under a package name with a suffix (ru.app.debug).
        cast(coalesce(match(toString(app_package_name), '(?i)\\.(debug|dev|qa|test)$'), false) as Bool) as is_test_build,
        _loaded_at
    from deduplicated
),

final as (
    select * from renamed
)

select * from final
