{{
    config(
        order_by='(breakdown, breakdown_value, entry_date, step_index)',
        partition_by='toYYYYMM(entry_date)',
    )
}}

{%- set steps = [{'name': 'title_page'}, {'name': 'play'}, {'name': 'complete'}] %}

{#- A table rebuilt on every run from fct_funnel_content_persons, which is. -#}

-- One row per entry day, breakdown, breakdown value and funnel step (units: person x title).
with

persons as (
    select
        *,
        arrayJoin([
            ('total', 'all'),
            ('entry_platform', toString(entry_platform)),
            ('play_platform', toString(play_platform)),
            ('acquisition_channel', toString(acquisition_channel))
        ]) as breakdown_pair,
        breakdown_pair.1 as breakdown_name,
        breakdown_pair.2 as breakdown_key,
        [{% for step in steps %}{{ step.name }}_at{{ ', ' if not loop.last }}{% endfor %}] as step_at
    from {{ ref('fct_funnel_content_persons') }}
),

summary as (
    {{ funnel_summary('persons', steps, ['entry_date', 'breakdown_name', 'breakdown_key']) }}
),

final as (
    select
        entry_date,
        cast(breakdown_name as LowCardinality(String)) as breakdown,
        cast(breakdown_key as LowCardinality(String)) as breakdown_value,
        step_index,
        cast(step_name as LowCardinality(String)) as step_name,
        persons_entered,
        persons,
        persons_at_previous_step,
        persons_dropped,
        persons_in_progress,
        conversion_from_entry,
        conversion_from_previous,
        median_seconds_from_previous,
        mean_seconds_from_previous,
        median_seconds_from_entry,
        mean_seconds_from_entry
    from summary
)

select * from final
