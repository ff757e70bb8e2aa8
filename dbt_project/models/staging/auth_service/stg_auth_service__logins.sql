-- One row per login (latest version of each login_id), sign-ups included.
with

source as (
    {{ latest_version(source('auth_service', 'logins'), ['login_id'], ['updated_at']) }}
),

renamed as (
    select
        login_id,
        toString(user_id) as user_id,
        {{ to_utc_ms('logged_in_at') }} as logged_in_at,
        toDate(logged_in_at) as login_date,
        -- client_type names the platform the same way the rest of the warehouse does.
        cast(coalesce(client_type, 'web') as LowCardinality(String)) as platform,
        -- The client id is the Metrica ClientID on the web, the AppMetrica device id in apps and
        -- the TV's own id on TVs.
        nullIf(client_id, '') as client_id,
        auth_method,
        cast(coalesce(auth_method = 'signup', false) as Bool) as is_signup,
        ip,
        user_agent,
        {{ is_bot_agent('user_agent') }} as is_bot,
        {{ to_utc_ms('updated_at') }} as updated_at,
        _loaded_at
    from source
),

final as (
    select * from renamed
)

select * from final
