-- One row per app installation (latest version of each application and installation id).
with

source as (
    {{ latest_version(source('appmetrica', 'installations'), ['application_id', 'installation_id']) }}
),

renamed as (
    select
        installation_id,
        application_id,
        toString(toUInt64(appmetrica_device_id)) as device_id,
        nullIf(profile_id, '') as profile_id,
        toDateTime64(coalesce(install_timestamp, toUnixTimestamp(install_receive_datetime)), 3, 'UTC') as installed_at,
        toDate(toDateTime(coalesce(install_timestamp, toUnixTimestamp(install_receive_datetime)), 'UTC'))
            as install_date,
        {{ to_utc_ms('install_receive_datetime') }} as received_at,
        -- Organic installs carry click_timestamp = 0.
        cast(coalesce(attributed_touch_type, '') = 'click' and coalesce(click_timestamp, 0) > 0 as Bool) as is_attributed,
        if(coalesce(click_timestamp, 0) > 0, toDateTime64(click_timestamp, 3, 'UTC'), null) as clicked_at,
        nullIf(attributed_touch_type, '') as attributed_touch_type,
        nullIf(publisher_name, '') as publisher_name,
        nullIf(tracker_name, '') as tracker_name,
        if(tracking_id > 0, toString(toUInt64(tracking_id)), null) as tracking_id,
        nullIf(decodeURLFormComponent(extractURLParameter(concat('?', coalesce(click_url_parameters, '')), 'utm_source')), '')
            as utm_source,
        -- Tracker links carry no medium: a click through a tracker is a paid click.
        coalesce(
            nullIf(decodeURLFormComponent(extractURLParameter(concat('?', coalesce(click_url_parameters, '')), 'utm_medium')), ''),
            if(coalesce(attributed_touch_type, '') = 'click' and coalesce(click_timestamp, 0) > 0, 'cpc', null)
        ) as utm_medium,
        nullIf(decodeURLFormComponent(extractURLParameter(concat('?', coalesce(click_url_parameters, '')), 'utm_campaign')), '')
            as utm_campaign,
        coalesce(is_reinstallation, false) as is_reinstallation,
        coalesce(is_reattribution, false) as is_reattribution,
        if(os_name = 'ios', 'ios', 'android') as platform,
        os_name,
        device_model,
        device_type,
        nullIf(google_aid, '') as google_aid,
        nullIf(nullIf(ios_ifa, ''), '00000000-0000-0000-0000-000000000000') as ios_ifa,
        nullIf(ios_ifv, '') as ios_ifv,
        cast(coalesce(match(toString(app_package_name), '(?i)\\.(debug|dev|qa|test)$'), false) as Bool) as is_test_build,
        _loaded_at
    from source
),

final as (
    select * from renamed
)

select * from final
