-- A month's closing MRR and subscriber count equal the daily mart's on the close day, summed over
-- channels (plan rows) and over plans and channels ('all'). Returns mismatching months.
with

daily as (
    select
        unit_plan as plan_id,
        subscription_date,
        sum(mrr) as mrr,
        sum(active_subscribers) as active_subscribers
    from {{ ref('fct_subscriptions_daily') }}
    array join [toString(plan_id), 'all'] as unit_plan
    group by plan_id, subscription_date
),

final as (
    select
        monthly.plan_id as plan_id,
        monthly.month_start as month_start,
        monthly.closing_mrr as closing_mrr,
        daily.mrr as daily_mrr,
        monthly.closing_subscribers as closing_subscribers,
        daily.active_subscribers as daily_subscribers
    from {{ ref('fct_mrr_monthly') }} as monthly
    left join daily
        on monthly.plan_id = daily.plan_id
        and monthly.close_date = daily.subscription_date
    where monthly.closing_mrr != ifNull(daily.mrr, 0)
        or monthly.closing_subscribers != ifNull(daily.active_subscribers, 0)
    settings join_use_nulls = 1
)

select * from final
