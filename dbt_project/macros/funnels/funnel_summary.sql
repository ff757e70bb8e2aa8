{#-
    Step-level funnel figures from the rows of funnel_persons: one row per group and step.
    `persons` is a relation or CTE name holding funnel_persons output; `group_by` lists columns of
    it (breakdowns, an entry date...). Documented in macros/funnels/_funnels__macros.yml.
-#}

{% macro funnel_summary(persons, steps, group_by=[]) %}
{%- set n = steps | length -%}
{#- For each step, the index of the previous step that every converting person did (an optional
    step is never the base of a conversion rate). -#}
{%- set previous_required = [0] -%}
{%- set ns = namespace(last_required=1) -%}
{%- for step in steps[1:] -%}
    {%- do previous_required.append(ns.last_required) -%}
    {%- if not step.get('optional', false) -%}{%- set ns.last_required = loop.index + 1 -%}{%- endif -%}
{%- endfor -%}
with

funnel_steps_unrolled as (
    select
        {%- for column in group_by %}
        {{ column }},
        {%- endfor %}
        fs_step,
        [{% for step in steps %}'{{ step.name }}'{{ ', ' if not loop.last }}{% endfor %}][fs_step] as fs_name,
        [{% for step in steps %}{{ 'true' if step.get('optional', false) else 'false' }}{{ ', ' if not loop.last }}{% endfor %}][fs_step] as fs_is_optional,
        [{{ previous_required | join(', ') }}][fs_step] as fs_previous,
        {#- Reaching a required step means getting at least that far; an optional one counts only when done. #}
        if(fs_is_optional, step_at[fs_step] is not null, furthest_step >= fs_step) as fs_reached,
        fs_previous > 0 and furthest_step >= fs_previous as fs_reached_previous,
        furthest_step = fs_step as fs_stopped,
        is_in_progress as fs_in_progress,
        {#- Whole milliseconds: integer sums make the means identical on every run. #}
        dateDiff(
            'millisecond',
            arrayLast(v -> v is not null, arraySlice(step_at, 1, fs_step - 1)),
            step_at[fs_step]
        ) as fs_ms_from_previous,
        dateDiff('millisecond', step_at[1], step_at[fs_step]) as fs_ms_from_entry
    from {{ persons }}
    array join range(1, {{ n + 1 }}) as fs_step
),

funnel_summary as (
    select
        {%- for column in group_by %}
        {{ column }},
        {%- endfor %}
        toUInt8(fs_step) as step_index,
        any(fs_name) as step_name,
        any(fs_is_optional) as is_optional,
        count() as persons_entered,
        countIf(fs_reached) as persons,
        countIf(fs_reached_previous) as persons_at_previous_step,
        countIf(fs_stopped and not fs_in_progress and fs_step < {{ n }}) as persons_dropped,
        countIf(fs_stopped and fs_in_progress) as persons_in_progress,
        round(persons / persons_entered, 4) as conversion_from_entry,
        if(fs_step = 1, 1, round(persons / nullIf(persons_at_previous_step, 0), 4)) as conversion_from_previous,
        medianExactIf(fs_ms_from_previous, fs_reached and fs_step > 1) / 1000 as median_seconds_from_previous,
        avgIf(fs_ms_from_previous, fs_reached and fs_step > 1) / 1000 as mean_seconds_from_previous,
        medianExactIf(fs_ms_from_entry, fs_reached and fs_step > 1) / 1000 as median_seconds_from_entry,
        avgIf(fs_ms_from_entry, fs_reached and fs_step > 1) / 1000 as mean_seconds_from_entry
    from funnel_steps_unrolled
    group by
        {%- for column in group_by %}
        {{ column }},
        {%- endfor %}
        fs_step
)

select * from funnel_summary
{% endmacro %}
