{#
    Position (seconds) from which a view counts as complete: the start of the credits, or
    `complete_play_share` of the duration if that comes first (titles without credits data
    use the share alone).
#}
{% macro completion_position(duration_sec, credits_start_sec) -%}
    least(
        coalesce(nullIf({{ credits_start_sec }}, 0), {{ duration_sec }}),
        {{ var('complete_play_share', 0.9) }} * {{ duration_sec }}
    )
{%- endmacro %}
