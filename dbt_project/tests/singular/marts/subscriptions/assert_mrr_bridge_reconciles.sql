-- The MRR bridge closes: per plan (and 'all') and month, opening + new + expansion + contraction
-- + churn + reactivation = closing, and a month's opening is the previous month's closing (0 for
-- the first month). Returns the months that break either rule.
with

bridge as (
    select
        plan_id,
        month_start,
        opening_mrr,
        closing_mrr,
        opening_mrr + new_mrr + expansion_mrr + contraction_mrr + churn_mrr + reactivation_mrr
            as bridged_mrr,
        lagInFrame(closing_mrr, 1, toDecimal64(0, 2)) over (
            partition by plan_id order by month_start
            rows between unbounded preceding and current row
        ) as previous_closing_mrr
    from {{ ref('fct_mrr_monthly') }}
),

final as (
    select *
    from bridge
    where bridged_mrr != closing_mrr or opening_mrr != previous_closing_mrr
)

select * from final
