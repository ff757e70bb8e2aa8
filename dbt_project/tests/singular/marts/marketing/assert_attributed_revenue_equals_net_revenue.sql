-- Under every model, attributed revenue sums to the net revenue of int_events (charges less
-- refunds, test payments excluded), and every model credits every conversion. Returns the
-- models that differ.
with

net as (
    select
        sum(value) as net_revenue,
        countIf(event_type in (
            'registration', 'trial_start', 'first_payment', 'renewal', 'reactivation', 'refund'
        )) as conversions
    from {{ ref('int_events') }}
),

attributed as (
    select
        attribution_model,
        sum(attributed_revenue) as attributed_revenue,
        uniqExact(conversion_id) as conversions
    from {{ ref('fct_attribution') }}
    group by attribution_model
),

final as (
    select
        attributed.attribution_model as attribution_model,
        attributed.attributed_revenue as attributed_revenue,
        net.net_revenue as net_revenue,
        attributed.conversions as attributed_conversions,
        net.conversions as conversions
    from attributed
    cross join net
    where abs(attributed.attributed_revenue - toFloat64(net.net_revenue)) > 0.005
        or attributed.conversions != net.conversions
)

select * from final
