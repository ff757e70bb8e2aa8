-- fct_marketing_spend_daily holds every cost row: spend, clicks and impressions per source
-- equal the staging totals. Returns the sources that differ.
with

sources as (
    select
        'yandex_direct' as source_system,
        sum(cost) as spend,
        sum(clicks) as clicks,
        sum(impressions) as impressions
    from {{ ref('stg_yandex_direct__campaign_stats') }}
    union all
    select 'ad_cost_files', sum(cost), sum(clicks), sum(impressions)
    from {{ ref('stg_ad_cost_files__ad_costs') }}
),

mart as (
    select
        toString(source_system) as source_system,
        sum(spend) as spend,
        sum(clicks) as clicks,
        sum(impressions) as impressions
    from {{ ref('fct_marketing_spend_daily') }}
    group by source_system
),

final as (
    select
        sources.source_system as source_system,
        sources.spend as source_spend,
        mart.spend as mart_spend
    from sources
    left join mart on sources.source_system = mart.source_system
    where sources.spend != mart.spend
        or sources.clicks != mart.clicks
        or sources.impressions != mart.impressions
    settings join_use_nulls = 1
)

select * from final
