{#
    Latest version of every natural key of an append-only raw table (ADR 0002): the raw layer
    stores a new row whenever a record's content changed, so staging keeps, per key, the row
    with the highest `version_columns` (e.g. `updated_at`; NULL lowest), then loaded last
    (`_loaded_at`), then the highest row hash, so two versions landing in the same load still
    resolve the same way every time.

    Written as "all rows but the superseded ones" rather than a sort of the whole table (LIMIT 1
    BY): only keys with more than one version are grouped into arrays, the rest streams through
    untouched. That keeps a 10M-row event table's view cheap to read and its memory small. A
    row is identified by `_row_hash`, which covers the key columns (the sink never stores the
    same key and hash twice).
#}
{% macro latest_version(relation, key_columns, version_columns=[]) -%}
    {%- set rank = [] -%}
    {%- for column in version_columns -%}
        {%- do rank.append('isNotNull(' ~ column ~ ')') -%}
        {%- do rank.append('assumeNotNull(' ~ column ~ ')') -%}
    {%- endfor -%}
    {%- do rank.extend(['_loaded_at', '_row_hash']) -%}
    select *
    from {{ relation }}
    where _row_hash not in (
        select arrayJoin(arrayFilter(hash -> hash != newest, hashes))
        from (
            select
                groupArray(_row_hash) as hashes,
                argMax(_row_hash, ({{ rank | join(', ') }})) as newest
            from {{ relation }}
            group by {{ key_columns | join(', ') }}
            having count() > 1
        )
    )
{%- endmacro %}


{#
    Whether a user agent or browser name looks like automated traffic (crawlers, headless
    browsers, monitoring). Applied where the source carries one; the pattern is re2.
#}
{% macro is_bot_agent(column) -%}
    cast(coalesce(match(
        toString({{ column }}), '(?i)bot|crawl|spider|slurp|headless|phantomjs|lighthouse|monitor|curl/|python-requests'
    ), false) as Bool)
{%- endmacro %}


{#
    Milliseconds-precision UTC timestamp from any DateTime / DateTime64 column, the canonical
    type of every `*_at` column from staging on.
#}
{% macro to_utc_ms(column) -%}
    toDateTime64({{ column }}, 3, 'UTC')
{%- endmacro %}


{#
    Text of a UInt64 id that raw keeps as Decimal(20, 0) (exact above 2^63); NULL for NULL or 0,
    which the sources use for "not sent".
#}
{% macro id_text(column) -%}
    nullIf(toString(toUInt64({{ column }})), '0')
{%- endmacro %}


{#
    The source table, or an empty relation of the given columns while it does not exist yet:
    the dlt sink creates a raw table with its first row, and some (refunds) legitimately stay
    empty for a while on a new deployment. At parse time it is always the source, so lineage
    and freshness know it.

    Args:
        source_name, table_name: as for source().
        columns: mapping of column name -> ClickHouse type (as in raw) of the empty stand-in.
#}
{% macro source_or_empty(source_name, table_name, columns) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
        (select
            {%- for name, type in columns.items() %}
            cast(defaultValueOfTypeName('{{ type | replace("'", "\\'") }}') as {{ type }}) as {{ name }}{{ ',' if not loop.last }}
            {%- endfor %}
        limit 0)
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}
