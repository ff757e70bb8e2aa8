-- One row per ad network, day and campaign from the daily cost files (latest file version).
with

source as (
    {{ latest_version(source('ad_cost_files', 'ad_costs'), ['network', 'date', 'campaign_id']) }}
),

renamed as (
    select
        network,
        toDate(date) as stat_date,
        campaign_id,
        campaign_name,
        nullIf(utm_source, '') as utm_source,
        nullIf(utm_medium, '') as utm_medium,
        nullIf(utm_campaign, '') as utm_campaign,
        coalesce(impressions, 0) as impressions,
        coalesce(clicks, 0) as clicks,
        toDecimal64(coalesce(cost, 0), 2) as cost,
        coalesce(nullIf(currency, ''), 'RUB') as currency,
        _loaded_at
    from source
),

final as (
    select * from renamed
)

select * from final
