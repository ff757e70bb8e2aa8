{#-
    Funnels over a stream of events: one row per person who entered the funnel.

    The events relation needs person_id String, event_at DateTime64, event_seq UInt64 and whatever
    the step conditions, exclusions and breakdowns read. Events are ordered by
    (event_at, event_seq), so events in the same millisecond have one order on every run; a step
    only counts if it comes later in that order than the step before it.

    Two engines:
    - 'arrays' (default): every feature. Each person's events become one sorted array; for every
      step, each event matching it is joined to the best partial path that can precede it
      (ordered, inside the window, gap respected, no exclusion in between). The best partial is the
      one with the latest start, because a later start leaves the most window for the steps after;
      among those, the one whose steps came first.
    - 'window_funnel': ClickHouse's windowFunnel, for plain ordered funnels (no optional steps, no
      gaps, no exclusions, no breakdowns): the level and the in-progress flag only, no step times.
      Its timestamps carry the person's event rank below the millisecond, so same-millisecond
      events follow event_seq exactly as in the arrays engine and both give the same counts.

    Documented in macros/funnels/_funnels__macros.yml.
-#}

{% macro funnel_persons(
    events,
    steps,
    window_seconds=none,
    mode='ordered',
    exclusions=[],
    breakdowns=[],
    anchor='best',
    as_of=none,
    events_where=none,
    engine='arrays',
    unit_columns=[]
) %}
    {%- set spec = funnel__spec(steps, window_seconds, mode, exclusions, breakdowns, anchor, engine) -%}
    {%- set as_of_sql = as_of if as_of is not none else '(select max(event_at) from ' ~ events ~ ')' -%}
    {%- set keys = ['person_id'] + unit_columns -%}
    {%- if spec.engine == 'window_funnel' -%}
        {{ funnel__persons_window_funnel(events, spec, as_of_sql, events_where, keys) }}
    {%- else -%}
        {{ funnel__persons_arrays(events, spec, as_of_sql, events_where, keys) }}
    {%- endif -%}
{% endmacro %}


{#- Validates the arguments and returns them in one normalised dict. -#}
{% macro funnel__spec(steps, window_seconds, mode, exclusions, breakdowns, anchor, engine) %}
    {%- if mode not in ['ordered', 'strict', 'any'] -%}
        {{ exceptions.raise_compiler_error("funnel: mode must be ordered, strict or any, not " ~ mode) }}
    {%- endif -%}
    {%- if anchor not in ['best', 'first'] -%}
        {{ exceptions.raise_compiler_error("funnel: anchor must be best or first, not " ~ anchor) }}
    {%- endif -%}
    {%- if steps | length < 2 or steps | length > 16 -%}
        {{ exceptions.raise_compiler_error("funnel: between 2 and 16 steps, got " ~ steps | length) }}
    {%- endif -%}
    {%- set window = window_seconds if window_seconds is not none
        else var('funnel_window_days', 30) * 86400 -%}
    {%- set names = [] -%}
    {%- set out_steps = [] -%}
    {%- for step in steps -%}
        {%- set name = step.get('name') -%}
        {%- if not name or name in names -%}
            {{ exceptions.raise_compiler_error("funnel: every step needs a unique name (step " ~ loop.index ~ ")") }}
        {%- endif -%}
        {%- do names.append(name) -%}
        {%- set optional = step.get('optional', false) -%}
        {%- if optional and (loop.first or loop.last) -%}
            {{ exceptions.raise_compiler_error("funnel: the first and last steps cannot be optional (" ~ name ~ ")") }}
        {%- endif -%}
        {%- set min_gap = step.get('min_gap_seconds') -%}
        {%- set max_gap = step.get('max_gap_seconds') -%}
        {%- if loop.first and (min_gap is not none or max_gap is not none) -%}
            {{ exceptions.raise_compiler_error("funnel: the first step has no previous step to keep a gap to") }}
        {%- endif -%}
        {%- do out_steps.append({
            'index': loop.index,
            'name': name,
            'condition': funnel__condition(step, 'step ' ~ name),
            'optional': optional,
            'min_gap_ms': (min_gap * 1000) | int if min_gap is not none else none,
            'max_gap_ms': (max_gap * 1000) | int if max_gap is not none else none,
        }) -%}
    {%- endfor -%}
    {%- set n = out_steps | length -%}
    {%- set out_exclusions = [] -%}
    {%- for exclusion in exclusions -%}
        {%- set from_step = funnel__step_index(exclusion.get('from_step', 1), names) -%}
        {%- set to_step = funnel__step_index(exclusion.get('to_step', n), names) -%}
        {%- if from_step >= to_step -%}
            {{ exceptions.raise_compiler_error("funnel: an exclusion needs from_step < to_step") }}
        {%- endif -%}
        {%- do out_exclusions.append({
            'bit': loop.index0,
            'condition': funnel__condition(exclusion, 'exclusion ' ~ loop.index),
            'from_step': from_step,
            'to_step': to_step,
        }) -%}
    {%- endfor -%}
    {%- set out_breakdowns = [] -%}
    {%- for breakdown in breakdowns -%}
        {%- set attribution = breakdown.get('attribution', 'first_touch') -%}
        {%- if attribution not in ['first_touch', 'last_touch', 'step'] -%}
            {{ exceptions.raise_compiler_error("funnel: breakdown attribution must be first_touch, last_touch or step") }}
        {%- endif -%}
        {%- if not breakdown.get('name') or not breakdown.get('expression') -%}
            {{ exceptions.raise_compiler_error("funnel: a breakdown needs a name and an expression") }}
        {%- endif -%}
        {%- do out_breakdowns.append({
            'name': breakdown['name'],
            'expression': breakdown['expression'],
            'attribution': attribution,
            'step': funnel__step_index(breakdown.get('step', 1), names) if attribution == 'step' else none,
        }) -%}
    {%- endfor -%}
    {%- set has_extras = out_exclusions
        or (out_steps | selectattr('optional') | list)
        or (out_steps | rejectattr('min_gap_ms', 'none') | list)
        or (out_steps | rejectattr('max_gap_ms', 'none') | list) -%}
    {%- if mode == 'any' and has_extras -%}
        {{ exceptions.raise_compiler_error("funnel: mode 'any' has no step order, so no optional steps, gaps or exclusions") }}
    {%- endif -%}
    {%- if engine not in ['arrays', 'window_funnel'] -%}
        {{ exceptions.raise_compiler_error("funnel: engine must be arrays or window_funnel") }}
    {%- endif -%}
    {%- if engine == 'window_funnel' and (mode != 'ordered' or anchor != 'best' or has_extras or out_breakdowns) -%}
        {{ exceptions.raise_compiler_error("funnel: engine window_funnel supports plain ordered funnels only (anchor best, no optional steps, gaps, exclusions or breakdowns)") }}
    {%- endif -%}
    {{ return({
        'steps': out_steps,
        'n': n,
        'window_ms': (window * 1000) | int,
        'mode': mode,
        'anchor': anchor,
        'exclusions': out_exclusions,
        'breakdowns': out_breakdowns,
        'engine': engine,
    }) }}
{% endmacro %}


{#- SQL predicate of a step or exclusion: event_type (a name or a list) and/or a `where` predicate. -#}
{% macro funnel__condition(item, label) %}
    {%- set parts = [] -%}
    {%- set event_type = item.get('event_type') -%}
    {%- if event_type is string -%}
        {%- do parts.append("event_type = '" ~ event_type ~ "'") -%}
    {%- elif event_type is not none -%}
        {%- do parts.append("event_type in ('" ~ event_type | join("', '") ~ "')") -%}
    {%- endif -%}
    {%- if item.get('where') -%}
        {%- do parts.append('(' ~ item['where'] ~ ')') -%}
    {%- endif -%}
    {%- if not parts -%}
        {{ exceptions.raise_compiler_error("funnel: " ~ label ~ " needs an event_type or a where predicate") }}
    {%- endif -%}
    {{ return('(' ~ parts | join(' and ') ~ ')') }}
{% endmacro %}


{#- A 1-based step index from an index or a step name. -#}
{% macro funnel__step_index(step, names) %}
    {%- if step is number -%}
        {%- if step < 1 or step > names | length -%}
            {{ exceptions.raise_compiler_error("funnel: no step " ~ step) }}
        {%- endif -%}
        {{ return(step | int) }}
    {%- elif step in names -%}
        {{ return(names.index(step) + 1) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("funnel: no step named " ~ step) }}
    {%- endif -%}
{% endmacro %}


{% macro funnel__persons_arrays(events, spec, as_of_sql, events_where, keys) %}
{%- set n = spec.n -%}
{%- set steps = spec.steps -%}
{%- set w = spec.window_ms -%}
{%- set zeros = [] -%}{%- for s in steps -%}{%- do zeros.append('0') -%}{%- endfor -%}
{#- A partial path: (last matched position, start position, positions per step (0 = not matched), last matched step). -#}
{%- set partial_type = 'Array(Tuple(UInt32, UInt32, Array(UInt32), UInt8))' -%}
with

funnel_input as (
    select
        {{ keys | join(', ') }},
        toUnixTimestamp64Milli(event_at) as fn_ts,
        event_seq as fn_seq,
        {%- for step in steps %}
        {{ '+ ' if not loop.first }}bitShiftLeft(toUInt64({{ step.condition }}), {{ loop.index0 }})
        {%- endfor %} as fn_mask,
        {%- if spec.exclusions %}
        {%- for exclusion in spec.exclusions %}
        {{ '+ ' if not loop.first }}bitShiftLeft(toUInt64({{ exclusion.condition }}), {{ exclusion.bit }})
        {%- endfor %} as fn_excluded,
        {%- else %}
        toUInt64(0) as fn_excluded,
        {%- endif %}
        [{%- for breakdown in spec.breakdowns -%}
            toString(ifNull({{ breakdown.expression }}, '')){{ ', ' if not loop.last }}
        {%- endfor -%}]::Array(String) as fn_props
    from {{ events }}
    where {{ events_where if events_where else 'true' }}
    {%- if spec.mode != 'strict' %}
        {#- Strict funnels need every event (any other event breaks the chain); the others only what they match. #}
        and (fn_mask != 0 or fn_excluded != 0)
    {%- endif %}
),

funnel_sorted as (
    select
        {{ keys | join(', ') }},
        {#- Sorting whole tuples keeps even exact duplicates in one order on every run. #}
        arraySort(groupArray((fn_ts, fn_seq, fn_mask, fn_excluded, fn_props))) as fn_events
    from funnel_input
    group by {{ keys | join(', ') }}
    {#- Ordered and strict funnels are entered by step 1; an any-order one by any step. #}
    having {{ 'groupBitOr(fn_mask) != 0' if spec.mode == 'any' else 'bitAnd(groupBitOr(fn_mask), 1) = 1' }}
),

funnel_paths as (
    select
        {{ keys | join(', ') }},
        fn_events.1 as t,
        fn_events.3 as m,
        fn_events.4 as x,
        fn_events.5 as props,
        range(1, length(fn_events) + 1) as positions,
        {%- for exclusion in spec.exclusions %}
        {#- Exclusion events up to each position: between i and j there are cx[j-1] - cx[i]. #}
        arrayCumSum(arrayMap(v -> toUInt32(bitTest(v, {{ exclusion.bit }})), x)) as cx{{ exclusion.bit }},
        {%- endfor %}
        {%- if spec.mode == 'any' %}
        {#- Any order: an attempt starts at any matching event; each step counts at its first
            occurrence inside the window; step k of the result is the k-th distinct step done. #}
        arrayMap(
            i -> arrayMap(
                s -> toUInt32(arrayFirstIndex(
                    (v, p) -> p >= i and t[p] - t[i] <= {{ w }} and bitTest(v, s), m, positions
                )),
                range(0, {{ n }})
            ),
            {%- if spec.anchor == 'first' %}
            [toUInt32(arrayFirstIndex(v -> v != 0, m))]
            {%- else %}
            arrayFilter(i -> m[i] != 0, positions)
            {%- endif %}
        ) as attempt_steps,
        arrayMap(
            (a, i) -> (
                toUInt32(arrayMax(a)),
                toUInt32(i),
                arraySort(arrayFilter(p -> p > 0, a)),
                toUInt8(arrayCount(p -> p > 0, a))
            ),
            attempt_steps,
            {%- if spec.anchor == 'first' %}
            [toUInt32(arrayFirstIndex(v -> v != 0, m))]
            {%- else %}
            arrayFilter(i -> m[i] != 0, positions)
            {%- endif %}
        ) as attempts,
        arrayMap(
            a -> (a.1, a.2, arrayResize(a.3, {{ n }}, toUInt32(0)), a.4),
            attempts
        )::{{ partial_type }} as all_partials,
        {%- else %}
        {%- for step in steps %}
        {%- set k = step.index %}
        {%- if k == 1 %}
        arrayMap(
            i -> (toUInt32(i), toUInt32(i), [toUInt32(i), {{ zeros[1:] | join(', ') }}]::Array(UInt32), toUInt8(1)),
            {%- if spec.anchor == 'first' %}
            [toUInt32(arrayFirstIndex(v -> bitTest(v, 0), m))]
            {%- else %}
            arrayFilter(i -> bitTest(m[i], 0), positions)
            {%- endif %}
        )::{{ partial_type }} as p1,
        p1 as q1,
        {%- else %}
        {#- Partials that may precede step k, ordered so that the last valid one has the latest
            start and, of those, the earliest steps. A partial's future depends only on where it
            ends and when it started, so for each event of step k and each number of steps
            matched so far, that predecessor is the only one worth keeping. #}
        arraySort(p -> (p.2, arrayMap(v -> -toInt64(v), p.3)), q{{ k - 1 }}) as q{{ k - 1 }}_sorted,
        {%- set optional_before = steps[1:k - 1] | selectattr('optional') | list | length %}
        {%- for matched in range(k - optional_before, k + 1) %}
        arrayMap(
            j -> (j, arrayLast(
                p -> p.1 < j
                    {%- if optional_before %}
                    and arrayCount(v -> v > 0, p.3) = {{ matched - 1 }}
                    {%- endif %}
                    and t[j] - t[p.2] <= {{ w }}
                    {%- if step.min_gap_ms is not none %}
                    and t[j] - t[p.1] >= {{ step.min_gap_ms }}
                    {%- endif %}
                    {%- if step.max_gap_ms is not none %}
                    and t[j] - t[p.1] <= {{ step.max_gap_ms }}
                    {%- endif %}
                    {%- for exclusion in spec.exclusions %}
                    {%- if exclusion.from_step < k %}
                    and not (
                        p.4 < {{ exclusion.to_step }}
                        and cx{{ exclusion.bit }}[j - 1] > cx{{ exclusion.bit }}[p.1]
                    )
                    {%- endif %}
                    {%- endfor %}
                    {%- if spec.mode == 'strict' %}
                    {#- Strict: nothing between the two steps but repeats of the step just matched. #}
                    and arrayAll(q -> bitTest(m[q], p.4 - 1), arraySlice(positions, p.1 + 1, j - p.1 - 1))
                    {%- endif %},
                q{{ k - 1 }}_sorted
            )),
            arrayFilter(i -> bitTest(m[i], {{ k - 1 }}), positions)
        ) as c{{ k }}_{{ matched }},
        {%- endfor %}
        arrayMap(
            c -> (
                toUInt32(c.1),
                c.2.2,
                arrayMap((v, s) -> if(s = {{ k }}, toUInt32(c.1), v), c.2.3, range(1, {{ n + 1 }})),
                toUInt8({{ k }})
            ),
            arrayFilter(
                c -> c.2.1 > 0,
                arrayConcat({% for matched in range(k - optional_before, k + 1) %}c{{ k }}_{{ matched }}{{ ', ' if not loop.last }}{% endfor %})
            )
        )::{{ partial_type }} as p{{ k }},
        {%- if step.optional %}
        {#- An optional step may be skipped: what could precede it can also precede the next one. #}
        arrayConcat(p{{ k }}, q{{ k - 1 }}) as q{{ k }},
        {%- else %}
        p{{ k }} as q{{ k }},
        {%- endif %}
        {%- endif %}
        {%- endfor %}
        arrayConcat({% for step in steps %}p{{ step.index }}{{ ', ' if not loop.last }}{% endfor %}) as all_partials,
        {%- endif %}
        {#- The unit's result: furthest step, then most steps done, then latest start, then
            earliest steps (each step the first time it followed the one before). #}
        arrayLast(
            p -> true,
            arraySort(
                p -> (p.4, arrayCount(v -> v > 0, p.3), p.2, arrayMap(v -> -toInt64(v), p.3)),
                all_partials
            )
        ) as best
    from funnel_sorted
),

funnel_as_of as (
    select toDateTime64({{ as_of_sql }}, 3, 'UTC') as as_of_at
),

funnel_persons as (
    select
        {{ keys | join(', ') }},
        fromUnixTimestamp64Milli(t[best.2], 'UTC') as entered_at,
        entered_at + toIntervalMillisecond({{ w }}) as window_ends_at,
        best.4 as furthest_step,
        toUInt8(arrayCount(v -> v > 0, best.3)) as steps_completed,
        furthest_step = {{ n }} as is_converted,
        {#- Still able to go further: the window is open and, if the next step has a maximum gap,
            that gap has not run out either. #}
        not is_converted and (select as_of_at from funnel_as_of) < least(
            window_ends_at,
            fromUnixTimestamp64Milli(t[best.1], 'UTC') + toIntervalMillisecond(
                [{% for step in steps[1:] %}{{ step.max_gap_ms if step.max_gap_ms is not none and not step.optional and spec.mode != 'any' else w }}{{ ', ' if not loop.last }}{% endfor %}, 0][furthest_step]
            )
        ) as is_in_progress,
        arrayMap(
            i -> if(i = 0, null, fromUnixTimestamp64Milli(t[i], 'UTC')),
            best.3
        )::Array(Nullable(DateTime64(3, 'UTC'))) as step_at
        {%- for breakdown in spec.breakdowns %},
        {%- if breakdown.attribution == 'first_touch' %}
        props[best.2][{{ loop.index }}] as {{ breakdown.name }}
        {%- elif breakdown.attribution == 'last_touch' %}
        props[best.1][{{ loop.index }}] as {{ breakdown.name }}
        {%- else %}
        if(best.3[{{ breakdown.step }}] = 0, '', props[best.3[{{ breakdown.step }}]][{{ loop.index }}]) as {{ breakdown.name }}
        {%- endif %}
        {%- endfor %}
    from funnel_paths
)

select * from funnel_persons
{% endmacro %}


{% macro funnel__persons_window_funnel(events, spec, as_of_sql, events_where, keys) %}
{%- set w = spec.window_ms -%}
{#- Timestamps in units of 2^-20 ms: the person's event rank sits below the millisecond, so ties
    follow event_seq, and a window of w ms + (2^20 - 1) units includes exactly the events at most
    w ms after the start (the rank difference of two events is below 2^20). -#}
with

funnel_as_of as (
    select toDateTime64({{ as_of_sql }}, 3, 'UTC') as as_of_at
),

funnel_input as (
    select
        {{ keys | join(', ') }},
        toUInt64(toUnixTimestamp64Milli(event_at)) * 1048576
            + row_number() over (partition by {{ keys | join(', ') }} order by event_at, event_seq) as fn_ts,
        event_at,
        {%- for step in spec.steps %}
        {{ step.condition }} as fn_c{{ step.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ events }}
    where {{ events_where if events_where else 'true' }}
        and ({% for step in spec.steps %}{{ step.condition }}{{ ' or ' if not loop.last }}{% endfor %})
),

funnel_levels as (
    select
        {{ keys | join(', ') }},
        windowFunnel({{ w * 1048576 + 1048575 }})(
            fn_ts{% for step in spec.steps %}, fn_c{{ step.index }}{% endfor %}
        ) as level,
        {#- The same funnel entered only inside the still-open window: reaching the same level
            there means the latest best attempt can still go further. #}
        windowFunnel({{ w * 1048576 + 1048575 }})(
            fn_ts,
            fn_c1 and event_at > (select as_of_at from funnel_as_of) - toIntervalMillisecond({{ w }})
            {%- for step in spec.steps[1:] %}, fn_c{{ step.index }}{% endfor %}
        ) as open_level
    from funnel_input
    group by {{ keys | join(', ') }}
    having level > 0
),

funnel_persons as (
    select
        {{ keys | join(', ') }},
        cast(null as Nullable(DateTime64(3, 'UTC'))) as entered_at,
        cast(null as Nullable(DateTime64(3, 'UTC'))) as window_ends_at,
        toUInt8(level) as furthest_step,
        toUInt8(level) as steps_completed,
        furthest_step = {{ spec.n }} as is_converted,
        not is_converted and open_level = level as is_in_progress,
        []::Array(Nullable(DateTime64(3, 'UTC'))) as step_at
    from funnel_levels
)

select * from funnel_persons
{% endmacro %}
