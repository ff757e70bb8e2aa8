{#
    Whether a touch starts a new session: it is the first of its timeline, or at least
    `session_timeout_minutes` passed since the end of all earlier activity. A gap of exactly the
    timeout starts a new session (the person was inactive for the whole timeout).

    Args:
        event_at: the touch's time.
        previous_activity_end_at: the latest activity end among earlier touches of the timeline.
        timeline_number: 1-based position of the touch in its timeline.
#}
{% macro is_new_session(event_at, previous_activity_end_at, timeline_number) -%}
    ({{ timeline_number }} = 1
        or {{ event_at }} >= {{ previous_activity_end_at }} + interval {{ var('session_timeout_minutes', 30) }} minute)
{%- endmacro %}
