{{
    config(
        order_by='(view_date, platform, content_id)',
        partition_by='toYYYYMM(view_date)',
    )
}}

{#- A table rebuilt on every run from int_player_views (one pass, grouped). -#}

-- One row per view day, platform and title (film or episode) played.
with

views as (
    select * from {{ ref('int_player_views') }}
),

final as (
    select
        view_date,
        platform,
        content_id,
        toUInt64(count()) as plays,
        toUInt64(uniqExact(person_id)) as viewers,
        toUInt64(count(startup_sec)) as plays_with_startup,
        quantileExactIf(0.5)(startup_sec, startup_sec is not null) as median_startup_sec,
        quantileExactIf(0.9)(startup_sec, startup_sec is not null) as p90_startup_sec,
        sum(views.played_sec) as total_played_sec,
        sum(views.buffering_sec) as total_buffering_sec,
        -- Buffering ratio: buffering / (played + buffering).
        if(
            total_played_sec + total_buffering_sec > 0,
            total_buffering_sec / (total_played_sec + total_buffering_sec),
            0
        ) as buffering_ratio,
        toUInt64(countIf(buffering_sec > 0)) as plays_with_buffering
    from views
    group by view_date, platform, content_id
)

select * from final
