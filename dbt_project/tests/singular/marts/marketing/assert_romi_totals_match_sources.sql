-- For every model, fct_romi's channel totals ('all' rows) hold all the spend and all the
-- attributed revenue and conversions, and its campaign rows add up to them. Returns models
-- that differ.
with

romi as (
    select
        attribution_model,
        sumIf(spend, campaign = 'all') as spend_all,
        sumIf(spend, campaign != 'all') as spend_campaigns,
        sumIf(net_revenue, campaign = 'all') as revenue_all,
        sumIf(net_revenue, campaign != 'all') as revenue_campaigns,
        sumIf(conversions, campaign = 'all') as conversions_all
    from {{ ref('fct_romi') }}
    group by attribution_model
),

spend as (
    select sum(spend) as spend from {{ ref('fct_marketing_spend_daily') }}
),

attributed as (
    select
        attribution_model,
        sum(attributed_revenue) as revenue,
        sumIf(credit, conversion_type != 'refund') as conversions
    from {{ ref('fct_attribution') }}
    group by attribution_model
),

final as (
    select romi.*
    from romi
    cross join spend
    left join attributed on toString(romi.attribution_model) = toString(attributed.attribution_model)
    where romi.spend_all != spend.spend
        or romi.spend_campaigns != spend.spend
        or abs(romi.revenue_all - attributed.revenue) > 0.005
        or abs(romi.revenue_campaigns - attributed.revenue) > 0.005
        or abs(romi.conversions_all - attributed.conversions) > 1e-6
)

select * from final
