-- One row per Metrica visit (latest version of each visit_id).
with

source as (
    {{ latest_version(source('yandex_metrica', 'visits'), ['counter_id', 'visit_id']) }}
),

renamed as (
    select
        toString(visit_id) as visit_id,
        counter_id,
        {{ id_text('client_id') }} as client_id,
        {{ id_text('counter_user_id_hash') }} as user_id_hash,
        -- The site sends its own user id as the visit parameter `user_id` once someone logs in.
        nullIf(
            JSONExtractString(coalesce(parsed_params_key2, '[]'),
                indexOf(JSONExtract(coalesce(parsed_params_key1, '[]'), 'Array(String)'), 'user_id')),
            ''
        ) as site_user_id,
        {{ to_utc_ms('date_time_utc') }} as started_at,
        toDate(date_time_utc) as visit_date,
        coalesce(visit_duration, 0) as duration_seconds,
        coalesce(page_views, 0) as page_views,
        coalesce(is_new_user, false) as is_new_user,
        coalesce(bounce, false) as is_bounce,
        start_url,
        end_url,
        nullIf(referer, '') as referrer,
        -- The visit's own tags, from its landing URL (the lastsign_* fields describe an earlier
        -- significant visit, not this one).
        nullIf(decodeURLFormComponent(extractURLParameter(coalesce(start_url, ''), 'utm_source')), '') as utm_source,
        nullIf(decodeURLFormComponent(extractURLParameter(coalesce(start_url, ''), 'utm_medium')), '') as utm_medium,
        nullIf(decodeURLFormComponent(extractURLParameter(coalesce(start_url, ''), 'utm_campaign')), '') as utm_campaign,
        nullIf(decodeURLFormComponent(extractURLParameter(coalesce(start_url, ''), 'utm_content')), '') as utm_content,
        nullIf(decodeURLFormComponent(extractURLParameter(coalesce(start_url, ''), 'utm_term')), '') as utm_term,
        nullIf(extractURLParameter(coalesce(start_url, ''), 'yclid'), '') as yclid,
        nullIf(last_traffic_source, '') as traffic_source,
        nullIf(last_search_engine, '') as search_engine,
        nullIf(last_social_network, '') as social_network,
        nullIf(last_adv_engine, '') as adv_engine,
        device_category,
        operating_system_root as os_family,
        browser,
        region_city as city,
        {{ is_bot_agent('browser') }} as is_bot,
        _loaded_at
    from source
),

final as (
    select * from renamed
)

select * from final
