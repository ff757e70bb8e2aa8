{{ config(order_by='(attribution_model, channel, campaign, month)') }}

{#-
    A small table rebuilt on every run from fct_attribution and fct_marketing_spend_daily:
    cumulative columns change whenever an old month changes.
-#}

-- One row per month, attribution model, channel and campaign ('all' = the channel's total).
with

spend_daily as (
    select * from {{ ref('fct_marketing_spend_daily') }}
),

attribution as (
    select * from {{ ref('fct_attribution') }}
),

models as (
    select distinct attribution_model from attribution
),

spend_monthly as (
    select
        toStartOfMonth(spend_date) as month,
        toString(channel) as channel,
        campaign,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks
    from spend_daily
    group by month, channel, campaign
),

-- Credits and revenue land in the month of the conversion (a refund in its own month).
attributed_monthly as (
    select
        toStartOfMonth(conversion_date) as month,
        toString(attribution_model) as attribution_model,
        toString(channel) as channel,
        campaign,
        sumIf(credit, conversion_type = 'registration') as registrations,
        sumIf(credit, conversion_type = 'trial_start') as trial_starts,
        sumIf(credit, conversion_type = 'first_payment') as first_payments,
        sumIf(credit, conversion_type = 'renewal') as renewals,
        sumIf(credit, conversion_type = 'reactivation') as reactivations,
        sumIf(attributed_revenue, conversion_type = 'first_payment') as first_payment_revenue,
        sum(attributed_revenue) as net_revenue
    from attribution
    group by month, attribution_model, channel, campaign
),

-- Spend does not depend on the model: every model's rows carry it.
measures as (
    select
        spend_monthly.month as month,
        models.attribution_model as attribution_model,
        spend_monthly.channel as channel,
        spend_monthly.campaign as campaign,
        spend_monthly.spend as spend,
        spend_monthly.impressions as impressions,
        spend_monthly.clicks as clicks,
        0.0 as registrations,
        0.0 as trial_starts,
        0.0 as first_payments,
        0.0 as renewals,
        0.0 as reactivations,
        0.0 as first_payment_revenue,
        0.0 as net_revenue
    from spend_monthly
    cross join models
    union all
    select
        month,
        attribution_model,
        channel,
        campaign,
        toDecimal64(0, 2),
        toUInt64(0),
        toUInt64(0),
        registrations,
        trial_starts,
        first_payments,
        renewals,
        reactivations,
        first_payment_revenue,
        net_revenue
    from attributed_monthly
),

-- Each campaign row and the channel's 'all' row.
rolled_up as (
    select
        month,
        attribution_model,
        channel,
        campaign_key as campaign,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(registrations) as registrations,
        sum(trial_starts) as trial_starts,
        sum(first_payments) as first_payments,
        sum(renewals) as renewals,
        sum(reactivations) as reactivations,
        sum(first_payment_revenue) as first_payment_revenue,
        sum(net_revenue) as net_revenue
    from measures
    array join [campaign, 'all'] as campaign_key
    group by month, attribution_model, channel, campaign_key
),

-- Every key gets every month from the first to the last with data, so running totals are
-- readable at any month.
month_spine as (
    select addMonths(min_month, offset) as month
    from (select min(month) as min_month, max(month) as max_month from rolled_up)
    array join range(toUInt64(dateDiff('month', min_month, max_month) + 1)) as offset
),

keys as (
    select distinct attribution_model, channel, campaign from rolled_up
),

filled as (
    select
        month_spine.month as month,
        keys.attribution_model as attribution_model,
        keys.channel as channel,
        keys.campaign as campaign,
        coalesce(rolled_up.spend, toDecimal64(0, 2)) as spend,
        coalesce(rolled_up.impressions, 0) as impressions,
        coalesce(rolled_up.clicks, 0) as clicks,
        coalesce(rolled_up.registrations, 0) as registrations,
        coalesce(rolled_up.trial_starts, 0) as trial_starts,
        coalesce(rolled_up.first_payments, 0) as first_payments,
        coalesce(rolled_up.renewals, 0) as renewals,
        coalesce(rolled_up.reactivations, 0) as reactivations,
        coalesce(rolled_up.first_payment_revenue, 0) as first_payment_revenue,
        coalesce(rolled_up.net_revenue, 0) as net_revenue
    from keys
    cross join month_spine
    left join rolled_up
        on keys.attribution_model = rolled_up.attribution_model
        and keys.channel = rolled_up.channel
        and keys.campaign = rolled_up.campaign
        and month_spine.month = rolled_up.month
    settings join_use_nulls = 1
),

final as (
    select
        month,
        cast(attribution_model as LowCardinality(String)) as attribution_model,
        cast(channel as LowCardinality(String)) as channel,
        campaign,
        toDecimal64(spend, 2) as spend,
        toUInt64(impressions) as impressions,
        toUInt64(clicks) as clicks,
        toFloat64(registrations) as registrations,
        toFloat64(trial_starts) as trial_starts,
        toFloat64(first_payments) as first_payments,
        toFloat64(renewals) as renewals,
        toFloat64(reactivations) as reactivations,
        registrations + trial_starts + first_payments + renewals + reactivations as conversions,
        first_payments as new_paying_customers,
        toFloat64(first_payment_revenue) as first_payment_revenue,
        toFloat64(net_revenue) as net_revenue,
        toDecimal64(sum(spend) over running, 2) as cumulative_spend,
        sum(net_revenue) over running as cumulative_net_revenue,
        if(new_paying_customers > 1e-9, toFloat64(spend) / new_paying_customers, null) as cac,
        if(conversions > 1e-9, toFloat64(spend) / conversions, null) as cpa,
        if(registrations > 1e-9, toFloat64(spend) / registrations, null) as cpa_registration,
        if(trial_starts > 1e-9, toFloat64(spend) / trial_starts, null) as cpa_trial_start,
        if(spend > 0, (net_revenue - toFloat64(spend)) / toFloat64(spend), null) as romi,
        if(
            cumulative_spend > 0,
            (cumulative_net_revenue - toFloat64(cumulative_spend)) / toFloat64(cumulative_spend),
            null
        ) as cumulative_romi,
        if(net_revenue > 1e-9, toFloat64(spend) / net_revenue, null) as drr
    from filled
    window running as (
        partition by attribution_model, channel, campaign order by month
        rows between unbounded preceding and current row
    )
)

select * from final
