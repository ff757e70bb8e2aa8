-- Each QoE metric's buckets hold every renewal decision once: their decisions, renewals and
-- cancellations add up to the totals fct_content_churn_saver counts. Returns mismatches.
with

totals as (
    select any(renewals) as renewals, any(cancellations) as cancellations
    from {{ ref('fct_content_churn_saver') }}
),

buckets as (
    select
        qoe_metric,
        sum(decisions) as decisions,
        sum(renewals) as renewals,
        sum(cancellations) as cancellations
    from {{ ref('fct_qoe_churn') }}
    group by qoe_metric
)

select buckets.*
from buckets
cross join totals
where buckets.renewals != totals.renewals
    or buckets.cancellations != totals.cancellations
    or buckets.decisions != totals.renewals + totals.cancellations
