-- One row per player (Snowplow media) event: the latest version of each event_id.
with

source as (
    {{ latest_version(source('player_logs', 'events'), ['event_id']) }}
),

renamed as (
    select
        event_id,
        media_session_id as view_id,
        -- Media v2 names end in `_event`; v1 trackers send the type separately.
        coalesce(nullIf(legacy_media_event_type, ''), replaceRegexpOne(event_name, '_event$', '')) as media_event,
        event_name,
        -- The device clock orders a playback's events; collector time is when they arrived.
        {{ to_utc_ms('coalesce(dvce_created_tstamp, collector_tstamp)') }} as event_at,
        toDate(coalesce(dvce_created_tstamp, collector_tstamp)) as event_date,
        {{ to_utc_ms('collector_tstamp') }} as collected_at,
        cast(multiIf(
            app_id = 'kino-tv' or platform = 'tv', 'smart_tv',
            app_id = 'kino-ios', 'ios',
            app_id = 'kino-android' or platform = 'mob', 'android',
            'web'
        ) as LowCardinality(String)) as platform,
        app_id,
        -- domain_userid is the device: Metrica ClientID on the web, AppMetrica device id in
        -- apps, the TV id on TVs.
        nullIf(domain_userid, '') as device_id,
        nullIf(user_id, '') as user_id,
        toString(content_id) as content_id,
        content_type,
        toString(series_id) as series_id,
        player_current_time as current_time_sec,
        player_duration as duration_sec,
        coalesce(player_paused, false) as is_paused,
        coalesce(player_ended, false) as is_ended,
        player_quality as quality,
        percent_progress,
        media_session_time_played as session_time_played_sec,
        media_session_time_paused as session_time_paused_sec,
        media_session_time_buffering as session_time_buffering_sec,
        page_url,
        {{ is_bot_agent('useragent') }} as is_bot,
        _loaded_at
    from source
),

final as (
    select * from renamed
)

select * from final
