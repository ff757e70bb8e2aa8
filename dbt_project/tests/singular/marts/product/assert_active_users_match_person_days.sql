-- DAU of every day, platform and channel equals the people fct_person_activity_daily has on
-- it (joined to their channel); 'all' rows are de-duplicated totals. Returns mismatching rows.
with

person_days as (
    select
        activity_date,
        platform,
        fct_person_activity_daily.person_id as person_id,
        ifNull(int_persons.acquisition_channel, 'unknown') as acquisition_channel
    from {{ ref('fct_person_activity_daily') }} as fct_person_activity_daily
    left join {{ ref('int_persons') }} as int_persons
        on fct_person_activity_daily.person_id = int_persons.person_id
    settings join_use_nulls = 1
),

expected as (
    select
        activity_date,
        platform_key as platform,
        channel_key as acquisition_channel,
        uniqExact(person_id) as expected_dau
    from person_days
    array join [platform, 'all'] as platform_key
    array join [acquisition_channel, 'all'] as channel_key
    group by activity_date, platform_key, channel_key
),

final as (
    select
        expected.activity_date as activity_date,
        expected.platform as platform,
        expected.acquisition_channel as acquisition_channel,
        expected_dau,
        active.dau as dau
    from expected
    left join {{ ref('fct_active_users_daily') }} as active
        on expected.activity_date = active.activity_date
        and expected.platform = active.platform
        and expected.acquisition_channel = active.acquisition_channel
    where expected_dau != active.dau
)

select * from final
