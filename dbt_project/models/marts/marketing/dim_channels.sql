{{ config(order_by='channel') }}

-- One row per marketing channel named by the channel-grouping rules.
with

rules as (
    select * from {{ ref('channel_groups') }}
),

final as (
    select
        channel,
        cast(any(channel_group) as LowCardinality(String)) as channel_group,
        max(is_paid) as is_paid,
        min(priority) as first_rule_priority,
        count() as rule_count
    from rules
    group by channel
)

select * from final
