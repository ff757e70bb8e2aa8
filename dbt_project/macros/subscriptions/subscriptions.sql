{#-
    Helpers shared by the subscription marts (documented in _subscriptions__macros.yml).
-#}

{#- The last day the subscription marts report: var('subscriptions_as_of_date') when set, else the
    newest day with any touch in int_events (the data's "today"). -#}
{% macro subscriptions_as_of_date() %}
{%- set as_of = var('subscriptions_as_of_date', none) -%}
{%- if as_of -%}
toDate('{{ as_of }}')
{%- else -%}
assumeNotNull((select max(event_date) from {{ ref('int_events') }}))
{%- endif -%}
{%- endmacro %}


{#- Months in a billing period of `period_days` days: 30-day months count as 1, 365 days as 12. -#}
{% macro subscription_period_months(period_days) %}
toUInt8(greatest(1, round({{ period_days }} / (365.25 / 12))))
{%- endmacro %}


{#- Monthly-normalised price (MRR contribution): the period price spread evenly over its months. -#}
{% macro subscription_monthly_price(price, period_months) %}
cast(round(toFloat64({{ price }}) / {{ period_months }}, 2) as Decimal(18, 2))
{%- endmacro %}
