{{
    config(
        order_by='(qoe_metric, bucket_index)',
    )
}}

{#- A table rebuilt on every run: a handful of rows. -#}

{%- set lookback_days = var('qoe_churn_lookback_days', 30) %}
{%- set metrics = {
    'buffering_ratio': var('qoe_buffering_ratio_edges', [0.01, 0.03, 0.05]),
    'median_startup_sec': var('qoe_startup_sec_edges', [1, 2, 4]),
} %}

-- One row per QoE metric and bucket: renewal decisions of people in that bucket and how many
-- were cancellations.
with

decisions as (
    {{ content_renewal_decisions(ref('int_events')) }}
),

views as (
    select person_id, started_at, played_sec, buffering_sec, startup_sec
    from {{ ref('int_player_views') }}
),

-- Each decider's quality of experience over the views of the lookback window.
decision_qoe as (
    select
        decisions.event_id as decision_id,
        any(decisions.person_id) as person_id,
        any(decisions.is_renewed) as is_renewed,
        countIf(views.started_at >= addDays(decisions.decision_at, -{{ lookback_days }})
            and views.started_at < decisions.decision_at) as window_views,
        sumIf(views.buffering_sec, views.started_at >= addDays(decisions.decision_at, -{{ lookback_days }})
            and views.started_at < decisions.decision_at) as window_buffering_sec,
        sumIf(views.played_sec, views.started_at >= addDays(decisions.decision_at, -{{ lookback_days }})
            and views.started_at < decisions.decision_at) as window_played_sec,
        quantileExactIf(0.5)(views.startup_sec, views.startup_sec is not null
            and views.started_at >= addDays(decisions.decision_at, -{{ lookback_days }})
            and views.started_at < decisions.decision_at) as window_median_startup_sec
    from decisions
    left join views on decisions.person_id = views.person_id
    group by decision_id
),

metric_values as (
    select
        decision_id,
        person_id,
        is_renewed,
        metric.1 as qoe_metric,
        metric.2 as metric_value
    from decision_qoe
    array join [
        ('buffering_ratio', if(
            window_played_sec + window_buffering_sec > 0,
            window_buffering_sec / (window_played_sec + window_buffering_sec),
            nan
        )),
        ('median_startup_sec', if(window_views > 0, window_median_startup_sec, nan))
    ] as metric
),

-- Bucket 0 = no viewing in the window; bucket k = value in [edge k-1, edge k).
bucketed as (
    select
        *,
        multiIf(
            isNaN(metric_value), 0,
            {% for name, edges in metrics.items() -%}
            qoe_metric = '{{ name }}', 1 + arrayCount(edge -> metric_value >= edge, {{ edges }}),
            {% endfor -%}
            0
        ) as bucket
    from metric_values
),

-- Every bucket of every metric, so empty buckets show as rows of zeros.
labels as (
    {%- set labels = [] %}
    {%- for name, edges in metrics.items() %}
    {%- do labels.append("('" ~ name ~ "', 0, 'no viewing')") %}
    {%- do labels.append("('" ~ name ~ "', 1, '< " ~ edges[0] ~ "')") %}
    {%- for edge in edges %}
    {%- set upper = ' – ' ~ edges[loop.index] if not loop.last else '+' %}
    {%- do labels.append("('" ~ name ~ "', " ~ (loop.index + 1) ~ ", '" ~ edge ~ upper ~ "')") %}
    {%- endfor %}
    {%- endfor %}
    select
        label.1 as qoe_metric,
        label.2 as bucket,
        label.3 as bucket_label
    from system.one
    array join [
        {{ labels | join(',\n        ') }}
    ] as label
),

final as (
    select
        cast(labels.qoe_metric as LowCardinality(String)) as qoe_metric,
        toUInt8(labels.bucket) as bucket_index,
        labels.bucket_label as bucket_label,
        toUInt64(countIf(bucketed.decision_id != '')) as decisions,
        toUInt64(uniqExactIf(bucketed.person_id, bucketed.decision_id != '')) as persons,
        toUInt64(countIf(bucketed.decision_id != '' and bucketed.is_renewed)) as renewals,
        toUInt64(countIf(bucketed.decision_id != '' and not bucketed.is_renewed)) as cancellations,
        if(decisions > 0, cancellations / decisions, null) as churn_rate,
        if(countIf(not isNaN(bucketed.metric_value) and bucketed.decision_id != '') > 0,
            avgIf(bucketed.metric_value, not isNaN(bucketed.metric_value) and bucketed.decision_id != ''),
            null) as avg_metric_value
    from labels
    left join bucketed on labels.qoe_metric = bucketed.qoe_metric and labels.bucket = bucketed.bucket
    group by labels.qoe_metric, labels.bucket, labels.bucket_label
)

select * from final
