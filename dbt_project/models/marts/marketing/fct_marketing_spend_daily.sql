{{ config(order_by='(spend_date, channel, source_system, campaign_id)') }}

{#-
    A small table rebuilt on every run: Direct revises a day's statistics for a week and a
    re-exported cost file replaces old numbers, and there is one row per campaign and day.
-#}

-- One row per day, cost source and campaign: spend, impressions and clicks of every ad source.
with

direct_stats as (
    select * from {{ ref('stg_yandex_direct__campaign_stats') }}
),

cost_files as (
    select * from {{ ref('stg_ad_cost_files__ad_costs') }}
),

-- Direct statistics carry no UTM tags: they are matched as the tags of Direct's own links
-- (vars, default yandex / cpc), so the channel_groups seed decides their channel too.
direct_daily as (
    select
        stat_date as spend_date,
        'yandex_direct' as source_system,
        'yandex_direct' as network,
        campaign_id,
        any(campaign_name) as campaign_name,
        cast('{{ var("direct_utm_source", "yandex") }}' as Nullable(String)) as utm_source,
        cast('{{ var("direct_utm_medium", "cpc") }}' as Nullable(String)) as utm_medium,
        cast(null as Nullable(String)) as utm_campaign,
        toUInt64(sum(impressions)) as impressions,
        toUInt64(sum(clicks)) as clicks,
        sum(cost) as spend
    from direct_stats
    group by stat_date, campaign_id
),

file_daily as (
    select
        stat_date as spend_date,
        'ad_cost_files' as source_system,
        network,
        campaign_id,
        campaign_name,
        utm_source,
        utm_medium,
        utm_campaign,
        toUInt64(impressions) as impressions,
        toUInt64(clicks) as clicks,
        cost as spend
    from cost_files
),

spend_rows as (
    select * from direct_daily
    union all
    select * from file_daily
),

-- One channel lookup per campaign (not per day): the tags are the campaign's.
campaigns as (
    select distinct
        concat(source_system, ':', network, ':', campaign_id) as campaign_key,
        utm_source,
        utm_medium,
        cast(null as Nullable(String)) as referrer
    from spend_rows
),

campaign_channels as (
    {{ channel_lookup('campaigns', 'campaign_key') }}
),

final as (
    select
        spend_rows.spend_date as spend_date,
        cast(coalesce(campaign_channels.channel, 'direct') as LowCardinality(String)) as channel,
        cast(spend_rows.source_system as LowCardinality(String)) as source_system,
        cast(spend_rows.network as LowCardinality(String)) as network,
        spend_rows.campaign_id as campaign_id,
        spend_rows.campaign_name as campaign_name,
        spend_rows.utm_source as utm_source,
        spend_rows.utm_medium as utm_medium,
        spend_rows.utm_campaign as utm_campaign,
        coalesce(spend_rows.utm_campaign, spend_rows.campaign_name, spend_rows.campaign_id) as campaign,
        spend_rows.impressions as impressions,
        spend_rows.clicks as clicks,
        toDecimal64(spend_rows.spend, 2) as spend
    from spend_rows
    left join campaign_channels
        on concat(spend_rows.source_system, ':', spend_rows.network, ':', spend_rows.campaign_id)
        = campaign_channels.campaign_key
    settings join_use_nulls = 1
)

select * from final
