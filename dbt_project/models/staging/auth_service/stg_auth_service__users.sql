-- One row per registered user (latest version of each user_id).
with

source as (
    {{ latest_version(source('auth_service', 'users'), ['user_id'], ['updated_at']) }}
),

renamed as (
    select
        toString(user_id) as user_id,
        nullIf(email_hash, '') as email_hash,
        birth_year,
        gender,
        city,
        region,
        {{ to_utc_ms('created_at') }} as registered_at,
        toDate(created_at) as registered_date,
        {{ to_utc_ms('updated_at') }} as updated_at,
        _loaded_at
    from source
),

final as (
    select * from renamed
)

select * from final
