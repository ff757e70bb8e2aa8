-- Net revenue per person agrees between the subscription events and int_events' billing touches
-- (both: successful non-test charges less refunds). Returns the people who differ.
with

subscription_revenue as (
    select
        person_id,
        sum(revenue) as revenue
    from {{ ref('fct_subscription_events') }}
    group by person_id
),

event_revenue as (
    select
        person_id,
        sum(value) as revenue
    from {{ ref('int_events') }}
    where source = 'billing'
    group by person_id
    having revenue != 0
),

final as (
    select
        coalesce(subscription_revenue.person_id, event_revenue.person_id) as person_id,
        subscription_revenue.revenue as subscription_revenue,
        event_revenue.revenue as event_revenue
    from subscription_revenue
    full outer join event_revenue on subscription_revenue.person_id = event_revenue.person_id
    where ifNull(subscription_revenue.revenue, 0) != ifNull(event_revenue.revenue, 0)
    settings join_use_nulls = 1
)

select * from final
