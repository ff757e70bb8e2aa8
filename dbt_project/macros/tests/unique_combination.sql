{#
    Generic test: the combination of `columns` is unique in the model (a composite key).
    Fails with one row per duplicated combination.
#}
{% test unique_combination(model, columns) %}
    select
        {{ columns | join(', ') }},
        count() as rows_with_key
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count() > 1
{% endtest %}
