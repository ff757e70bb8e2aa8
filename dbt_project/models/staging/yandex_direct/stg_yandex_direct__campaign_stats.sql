-- One row per Direct campaign, day, network type and device (latest revision of each).
with

source as (
    {{ latest_version(source('yandex_direct', 'campaign_stats'), ['client_login', 'date', 'campaign_id', 'ad_network_type', 'device']) }}
),

renamed as (
    select
        client_login,
        toDate(date) as stat_date,
        toString(campaign_id) as campaign_id,
        campaign_name,
        campaign_type,
        ad_network_type,
        lower(device) as device,
        coalesce(impressions, 0) as impressions,
        coalesce(clicks, 0) as clicks,
        toDecimal64(coalesce(cost, 0), 2) as cost,
        _loaded_at
    from source
),

final as (
    select * from renamed
)

select * from final
