{#-
    Periods as integers, so "N periods later" is plain arithmetic: days since 1970-01-01, ISO weeks
    since Monday 1970-01-05, months since January 1970. `grain` is a SQL expression ('day', 'week'
    or 'month'); product_period_start() turns an index back into the period's first day.
-#}

{% macro product_period_index(date_sql, grain='period_grain') %}
multiIf(
    {{ grain }} = 'day', toInt32(toRelativeDayNum({{ date_sql }})),
    {{ grain }} = 'week', toInt32(intDiv(toRelativeDayNum({{ date_sql }}) - 4, 7)),
    toInt32(toRelativeMonthNum({{ date_sql }}) - toRelativeMonthNum(toDate('1970-01-01')))
)
{%- endmacro %}


{% macro product_period_start(index_sql, grain='period_grain') %}
multiIf(
    {{ grain }} = 'day', addDays(toDate('1970-01-01'), {{ index_sql }}),
    {{ grain }} = 'week', addDays(toDate('1970-01-05'), {{ index_sql }} * 7),
    addMonths(toDate('1970-01-01'), {{ index_sql }})
)
{%- endmacro %}


{#- Last day of the period `number` periods after the one starting on `start_sql`. -#}
{% macro product_period_end(start_sql, number_sql='0', grain='period_grain') %}
multiIf(
    {{ grain }} = 'day', addDays({{ start_sql }}, {{ number_sql }}),
    {{ grain }} = 'week', addDays({{ start_sql }}, {{ number_sql }} * 7 + 6),
    addMonths({{ start_sql }}, {{ number_sql }} + 1) - 1
)
{%- endmacro %}

