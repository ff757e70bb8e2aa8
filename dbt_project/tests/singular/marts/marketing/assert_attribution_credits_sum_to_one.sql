-- Every conversion's credits sum to 1 under every attribution model. Returns the ones that do not.
select
    conversion_id,
    attribution_model,
    sum(credit) as credit_total
from {{ ref('fct_attribution') }}
group by conversion_id, attribution_model
having abs(credit_total - 1) > 1e-9
