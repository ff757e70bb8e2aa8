{#-
    Hash of one int_events row over what the activity marts read from it: its identity, person,
    platform, session, type and value. Summed per day, it tells whether a day's events changed.
-#}
{% macro product_event_fingerprint() -%}
    cityHash64(event_id, person_id, platform, ifNull(session_id, ''), event_type, ifNull(toString(value), ''))
{%- endmacro %}


{#-
    Aggregate expression: a UInt64 sum of hashes of one day's person-days (`activity`, a
    relation with person_id and platform) with the person's attributes the active-user counts
    break down by (`persons`: acquisition_channel, first_seen_date).
-#}
{% macro active_users_inputs_fingerprint(activity, persons) -%}
    sum(cityHash64(
        {{ activity }}.person_id, {{ activity }}.platform,
        ifNull({{ persons }}.acquisition_channel, ''), ifNull(toString({{ persons }}.first_seen_date), '')
    ))
{%- endmacro %}
