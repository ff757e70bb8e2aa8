-- One row per catalogue item (film, series, season, episode): its latest version.
with

source as (
    {{ latest_version(source('content_catalog', 'content'), ['content_id'], ['updated_at']) }}
),

renamed as (
    select
        toString(content_id) as content_id,
        content_type,
        toString(parent_id) as parent_id,
        toString(series_id) as series_id,
        season_number,
        episode_number,
        title,
        JSONExtract(coalesce(genres, '[]'), 'Array(String)') as genres,
        duration_sec,
        credits_start_sec,
        release_year,
        coalesce(is_original, false) as is_original,
        coalesce(is_free, false) as is_free,
        age_rating,
        toDecimal64(production_cost, 2) as production_cost,
        toDecimal64(licence_cost, 2) as licence_cost,
        toDate(licence_start) as licence_start_date,
        toDate(licence_end) as licence_end_date,
        {{ to_utc_ms('created_at') }} as created_at,
        {{ to_utc_ms('updated_at') }} as updated_at,
        _loaded_at
    from source
),

final as (
    select * from renamed
)

select * from final
