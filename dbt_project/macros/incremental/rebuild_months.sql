{#
    Months (toYYYYMM) an incremental run rebuilds, as a subquery. Incremental models here are
    partitioned by month and use insert_overwrite: each run recomputes whole months from
    staging and swaps them in, so a rebuilt month is exactly what a full refresh would hold.
    A month is rebuilt when
      - it lies within `lookback_days` of the newest date already built (late events), or
      - a source row of it was loaded since the newest load already built (less
        `late_load_margin_hours`, default 1, for loads that committed while the last run read):
        late arrivals of any age - offline app events, re-read visits, changed payments, or
      - `extra_months_sql` names it (drift: identity re-attribution, reclassified payments).

    Args:
        date_column: the model's partition date column in {{ this }}.
        loaded_at_column: the model's column holding its source rows' newest `_loaded_at`.
        candidates: relation/CTE with columns (<date>, loaded_at) of freshly computed rows.
        candidate_date_column: the date column of `candidates`.
        extra_months_sql: optional query returning one UInt32 column of extra months.
#}
{% macro rebuild_months(date_column, loaded_at_column, candidates, candidate_date_column, extra_months_sql=none) -%}
    select toYYYYMM(toDate(addDays(
        (select max({{ date_column }}) from {{ this }}), -{{ var('lookback_days', 3) }}
    ))) as rebuild_month
    union distinct
    select toYYYYMM({{ candidate_date_column }}) as rebuild_month
    from {{ candidates }}
    where loaded_at > (select max({{ loaded_at_column }}) from {{ this }})
            - interval {{ var('late_load_margin_hours', 1) }} hour
        or {{ candidate_date_column }} >= toDate(addDays(
            (select max({{ date_column }}) from {{ this }}), -{{ var('lookback_days', 3) }}
        ))
    {%- if extra_months_sql %}
    union distinct
    select rebuild_month from ({{ extra_months_sql }})
    {%- endif %}
{%- endmacro %}


{#
    Runs a query of rebuild months (e.g. one ending in rebuild_months) before the model's own
    SQL and returns them as a list of integers (YYYYMM), so the model filters on literals: the
    set is computed once, and month filters prune partitions. [0] (no month) when there is none,
    so `in (...)` stays valid; [0] as well at parse time, when nothing runs.
#}
{% macro months_to_rebuild(rebuild_sql) -%}
    {%- if not execute -%}
        {{ return([0]) }}
    {%- endif -%}
    {%- set months = run_query(rebuild_sql).columns[0].values() | map('int') | unique | sort | list -%}
    {{ return(months or [0]) }}
{%- endmacro %}
