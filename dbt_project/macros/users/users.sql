{#-
    Person-level rules of the users marts (dim_users, fct_user_timeline). Documented in
    macros/users/_users__macros.yml.
-#}

{#- Age band of an age in whole years; NULL age gives NULL. -#}
{% macro users_age_band(age_sql) -%}
multiIf(
    {{ age_sql }} is null, null,
    {{ age_sql }} < 18, 'under_18',
    {{ age_sql }} < 25, '18-24',
    {{ age_sql }} < 35, '25-34',
    {{ age_sql }} < 45, '35-44',
    {{ age_sql }} < 55, '45-54',
    '55+'
)
{%- endmacro %}


{#-
    Quintile score 1-5 of a row among the rows of its window: rank() by `order_sql` ascending
    (worst first), so equal values share a score and the result needs no tie-breaker;
    score = 1 + floor(5 * (rank - 1) / rows). Use in a query over the scored population only.
-#}
{% macro users_quintile_score(order_sql) -%}
toUInt8(1 + intDiv(5 * (rank() over (order by {{ order_sql }}) - 1), count() over ()))
{%- endmacro %}


{#-
    RFM segment of recency, frequency and monetary scores (1-5; 0 = not a payer). FM is the
    mean of F and M; rules apply in order.
-#}
{% macro users_rfm_segment(r_sql, f_sql, m_sql) -%}
multiIf(
    {{ r_sql }} = 0, 'non_payer',
    {{ r_sql }} >= 4 and ({{ f_sql }} + {{ m_sql }}) >= 8, 'champions',
    {{ r_sql }} >= 3 and ({{ f_sql }} + {{ m_sql }}) >= 6, 'loyal',
    {{ r_sql }} >= 4, 'promising',
    {{ r_sql }} = 3, 'needs_attention',
    ({{ f_sql }} + {{ m_sql }}) >= 6, 'at_risk',
    'hibernating'
)
{%- endmacro %}


{#-
    Subscription state of one subscription from the merchant's status: trial; active (past_due
    too: access continues while payment is retried); cancelled_active (cancelled, access until
    the period end); churned (access ended: cancelled with ended_at, expired).
-#}
{% macro users_subscription_state(status_sql, ended_at_sql) -%}
multiIf(
    {{ status_sql }} = 'trial' and {{ ended_at_sql }} is null, 'trial',
    {{ status_sql }} in ('active', 'past_due') and {{ ended_at_sql }} is null, 'active',
    {{ status_sql }} = 'cancelled' and {{ ended_at_sql }} is null, 'cancelled_active',
    'churned'
)
{%- endmacro %}


{#- Precedence of subscription states when a person has several subscriptions (higher wins). -#}
{% macro users_subscription_state_rank(state_sql) -%}
multiIf(
    {{ state_sql }} = 'active', 4,
    {{ state_sql }} = 'trial', 3,
    {{ state_sql }} = 'cancelled_active', 2,
    {{ state_sql }} = 'churned', 1,
    0
)
{%- endmacro %}
