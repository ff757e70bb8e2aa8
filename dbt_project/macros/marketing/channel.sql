{#
    Marketing channel of touches, from the `channel_groups` seed: the first rule by ascending
    priority whose non-empty patterns all match (re2, case-insensitive) wins; an empty pattern
    matches anything. Before matching, a touch without UTM tags but with an external referrer
    gets the medium `referral` (as web analytics tools do), so referrer-only rules (search,
    social, referral) can tell it from direct traffic; the touch's own utm_medium is unchanged.

    Returns a query of (<key>, channel, channel_group, is_paid) for every row of `relation`,
    to be joined on the key.
#}
{% macro channel_lookup(relation, key, utm_source='utm_source', utm_medium='utm_medium', referrer='referrer') -%}
    select
        touches.{{ key }} as {{ key }},
        argMin(rules.channel, rules.priority) as channel,
        argMin(rules.channel_group, rules.priority) as channel_group,
        argMin(rules.is_paid, rules.priority) as is_paid
    from (
        select
            {{ key }},
            coalesce({{ utm_source }}, '') as match_source,
            if(
                coalesce({{ utm_medium }}, '') = '' and coalesce({{ utm_source }}, '') = ''
                and coalesce({{ referrer }}, '') != '',
                'referral',
                coalesce({{ utm_medium }}, '')
            ) as match_medium,
            coalesce({{ referrer }}, '') as match_referrer
        from {{ relation }}
    ) as touches
    cross join {{ ref('channel_groups') }} as rules
    where
        (rules.utm_source_pattern = '' or match(touches.match_source, concat('(?i)', rules.utm_source_pattern)))
        and (rules.utm_medium_pattern = '' or match(touches.match_medium, concat('(?i)', rules.utm_medium_pattern)))
        and (rules.referrer_pattern = '' or match(touches.match_referrer, concat('(?i)', rules.referrer_pattern)))
    group by touches.{{ key }}
{%- endmacro %}
