{#
    Prefix of the device hub an identifier belongs to, from a platform column: web browsers
    (Metrica ClientID = the player's domain_userid on the web), app devices (AppMetrica device
    id = domain_userid in apps) and TVs (the TV's own id).
#}
{% macro platform_hub_prefix(platform_column) -%}
    multiIf({{ platform_column }} = 'web', 'web:', {{ platform_column }} = 'smart_tv', 'tv:', 'app:')
{%- endmacro %}


{#
    person_id of a registered user: the user id anchors the person for good, so the id never
    changes once someone has registered.
#}
{% macro user_person_id(user_id_column) -%}
    concat('u', {{ user_id_column }})
{%- endmacro %}


{#
    person_id of someone not (yet) known to be a registered user: derived from the device hub
    (or the lone identifier) they were seen on, so it is stable across runs.
#}
{% macro anonymous_person_id(key_expression) -%}
    concat('a', lower(hex(sipHash64({{ key_expression }}))))
{%- endmacro %}
