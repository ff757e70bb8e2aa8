-- dim_users holds exactly the people of int_persons, each once. Returns a row per person
-- missing from either side or repeated in dim_users.
with

persons as (
    select person_id from {{ ref('int_persons') }}
),

users as (
    select person_id, count() as rows_per_person from {{ ref('dim_users') }} group by person_id
),

final as (
    select
        coalesce(persons.person_id, users.person_id) as person_id,
        persons.person_id is null as missing_from_int_persons,
        users.person_id is null as missing_from_dim_users,
        users.rows_per_person as rows_per_person
    from persons
    full outer join users on persons.person_id = users.person_id
    settings join_use_nulls = 1
)

select * from final
where missing_from_int_persons or missing_from_dim_users or rows_per_person != 1
