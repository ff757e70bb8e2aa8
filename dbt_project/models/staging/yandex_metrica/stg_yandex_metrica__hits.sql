-- One row per Metrica hit (page view; latest version of each watch_id).
with

source as (
    {{ latest_version(source('yandex_metrica', 'hits'), ['counter_id', 'watch_id']) }}
),

renamed as (
    select
        toString(watch_id) as hit_id,
        toString(page_view_id) as page_view_id,
        counter_id,
        {{ id_text('client_id') }} as client_id,
        {{ id_text('counter_user_id_hash') }} as user_id_hash,
        nullIf(
            JSONExtractString(coalesce(parsed_params_key2, '[]'),
                indexOf(JSONExtract(coalesce(parsed_params_key1, '[]'), 'Array(String)'), 'user_id')),
            ''
        ) as site_user_id,
        {{ to_utc_ms('date_time') }} as hit_at,
        toDate(date_time) as hit_date,
        url,
        path(coalesce(url, '')) as url_path,
        title,
        nullIf(referer, '') as referrer,
        -- Page kind from the site's URL scheme: /title/<id> is a title's page, /watch/<id> its player.
        multiIf(
            path(coalesce(url, '')) in ('', '/'), 'home',
            match(path(url), '^/title/\\d+'), 'title',
            match(path(url), '^/watch/\\d+'), 'watch',
            match(path(url), '^/search'), 'search',
            splitByChar('/', path(url))[2]
        ) as page_type,
        nullIf(extract(path(coalesce(url, '')), '^/(?:title|watch)/(\\d+)'), '') as content_id,
        nullIf(decodeURLFormComponent(extractURLParameter(coalesce(url, ''), 'utm_source')), '') as utm_source,
        nullIf(decodeURLFormComponent(extractURLParameter(coalesce(url, ''), 'utm_medium')), '') as utm_medium,
        nullIf(decodeURLFormComponent(extractURLParameter(coalesce(url, ''), 'utm_campaign')), '') as utm_campaign,
        coalesce(is_page_view, true) as is_page_view,
        coalesce(artificial, false) as is_artificial,
        device_category,
        operating_system_root as os_family,
        browser,
        {{ is_bot_agent('browser') }} as is_bot,
        _loaded_at
    from source
),

final as (
    select * from renamed
)

select * from final
