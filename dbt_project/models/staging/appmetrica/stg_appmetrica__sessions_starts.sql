-- One row per app session start (latest version of each application, device and session).
with

source as (
    {{ latest_version(source('appmetrica', 'sessions_starts'), ['application_id', 'appmetrica_device_id', 'session_id']) }}
),

renamed as (
    select
        concat(toString(toUInt64(appmetrica_device_id)), ':', toString(toUInt64(session_id))) as app_session_key,
        application_id,
        toString(toUInt64(appmetrica_device_id)) as device_id,
        toString(toUInt64(session_id)) as app_session_id,
        nullIf(installation_id, '') as installation_id,
        nullIf(profile_id, '') as profile_id,
        toDateTime64(coalesce(session_start_timestamp, toUnixTimestamp(session_start_receive_datetime)), 3, 'UTC')
            as started_at,
        toDate(toDateTime(coalesce(session_start_timestamp, toUnixTimestamp(session_start_receive_datetime)), 'UTC'))
            as session_date,
        {{ to_utc_ms('session_start_receive_datetime') }} as received_at,
        if(os_name = 'ios', 'ios', 'android') as platform,
        os_name,
        device_model,
        device_type,
        nullIf(google_aid, '') as google_aid,
        nullIf(nullIf(ios_ifa, ''), '00000000-0000-0000-0000-000000000000') as ios_ifa,
        nullIf(ios_ifv, '') as ios_ifv,
        connection_type,
        city,
        cast(coalesce(match(toString(app_package_name), '(?i)\\.(debug|dev|qa|test)$'), false) as Bool) as is_test_build,
        _loaded_at
    from source
),

final as (
    select * from renamed
)

select * from final
