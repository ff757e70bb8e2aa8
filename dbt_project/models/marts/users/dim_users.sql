{{
    config(
        order_by='person_id',
    )
}}

{#-
    A table rebuilt on every run, one row per person: small (people, not events), and any
    person's row can change on any run (identity merges, new touches, a subscription changing
    state). Sorted by person_id, the key every user-360 lookup and join uses; no partitions.
-#}

-- One row per person of int_persons: profile, acquisition, activity, viewing, subscription,
-- revenue and RFM, as of the newest event date in the data.
with

persons as (
    select * from {{ ref('int_persons') }}
),

users as (
    select * from {{ ref('stg_auth_service__users') }}
),

identity as (
    select * from {{ ref('int_identity__ids') }}
),

events as (
    select * from {{ ref('int_events') }}
),

sessions as (
    select * from {{ ref('int_sessions') }}
),

views as (
    select * from {{ ref('int_player_views') }}
),

content as (
    select * from {{ ref('stg_content_catalog__content') }}
),

subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

payments as (
    select * from {{ ref('stg_billing__payments') }}
),

-- The "as of" date: the newest event date in the data, not today, so a rebuild of the same
-- data gives the same windows.
as_of as (
    select max(event_date) as as_of_date from events
),

person_devices as (
    select
        person_id,
        arraySort(groupUniqArray(concat(
            multiIf(id_type = 'metrica_client_id', 'web:', id_type = 'appmetrica_device_id', 'app:', 'tv:'),
            id_value
        ))) as device_hubs
    from identity
    where id_type in ('metrica_client_id', 'appmetrica_device_id', 'tv_device_id')
    group by person_id
),

-- Activity from the person's touches. Billing touches are machine-made (renewals, ends) and
-- borrow their platform, so they count for money but not for activity or platforms.
event_stats as (
    select
        person_id,
        arraySort(groupUniqArrayIf(toString(platform), source != 'billing')) as platforms,
        uniqExactIf(event_date, source != 'billing' and event_date > (select as_of_date from as_of) - 7)
            as days_active_7d,
        uniqExactIf(event_date, source != 'billing' and event_date > (select as_of_date from as_of) - 30)
            as days_active_30d,
        uniqExactIf(event_date, source != 'billing' and event_date > (select as_of_date from as_of) - 90)
            as days_active_90d,
        uniqExactIf(event_date, source != 'billing') as days_active_lifetime,
        maxIf(event_date, source != 'billing') as last_active_date,
        argMin(event_type, (event_at, event_seq)) as first_event_type,
        -- The first touch that carries channel attributes, as one tuple: argMin skips NULL
        -- arguments, so separate argMins would mix tags of different touches.
        argMinIf(
            (channel, utm_source, utm_medium, utm_campaign, referrer), (event_at, event_seq), channel is not null
        ) as acquisition_touch,
        countIf(event_type in ('first_payment', 'renewal', 'reactivation')) as paid_charges,
        maxIf(event_at, event_type in ('first_payment', 'renewal', 'reactivation')) as last_paid_event_at,
        countIf(event_type = 'refund') as refunds,
        sumIf(value, source = 'billing') as net_revenue
    from events
    group by person_id
),

session_stats as (
    select person_id, count() as sessions from sessions group by person_id
),

view_stats as (
    select
        person_id,
        count() as plays,
        countIf(is_valid_play) as valid_plays,
        countIf(is_complete) as complete_plays,
        sum(played_sec) as played_sec,
        sum(unique_watched_sec) as unique_watched_sec
    from views
    group by person_id
),

genre_watch as (
    select
        views.person_id as person_id,
        genre,
        sum(views.played_sec) as played_sec
    from views
    inner join content on views.content_id = content.content_id
    array join content.genres as genre
    group by person_id, genre
),

-- Top 3 genres by watch time; equal watch time goes to the alphabetically first genre.
favourite_genres as (
    select
        person_id,
        arraySlice(
            arrayMap(g -> g.2, arraySort(g -> (-g.1, g.2), groupArray((played_sec, genre)))),
            1, 3
        ) as genres
    from genre_watch
    where played_sec > 0
    group by person_id
),

-- Subscriptions of customers (those paid with staff test payments are not), each with its
-- person by the same identity rule as billing touches in int_events.
test_subscriptions as (
    select distinct subscription_id from payments where is_test and subscription_id is not null
),

billing_customers as (
    select id_value, person_id from identity where id_type = 'billing_customer_id'
),

person_subscriptions as (
    select
        coalesce(
            billing_customers.person_id,
            {{ anonymous_person_id("concat('billing_customer_id:', subscriptions.user_id)") }}
        ) as person_id,
        subscriptions.subscription_id as subscription_id,
        subscriptions.plan_id as plan_id,
        subscriptions.started_at as started_at,
        subscriptions.current_period_end_at as current_period_end_at,
        {{ users_subscription_state('subscriptions.status', 'subscriptions.ended_at') }} as state
    from subscriptions
    left join billing_customers on subscriptions.user_id = billing_customers.id_value
    where subscriptions.user_id is not null
        and subscriptions.subscription_id not in (select subscription_id from test_subscriptions)
    settings join_use_nulls = 1
),

-- The person's state is that of their "best" subscription (active > trial > cancelled but
-- active > churned), the latest started among equals.
subscription_stats as (
    select
        person_id,
        count() as subscriptions,
        argMax(state, ({{ users_subscription_state_rank('state') }}, started_at, subscription_id))
            as subscription_state,
        argMax(plan_id, ({{ users_subscription_state_rank('state') }}, started_at, subscription_id))
            as best_plan_id,
        argMax(current_period_end_at, ({{ users_subscription_state_rank('state') }}, started_at, subscription_id))
            as best_period_end_at
    from person_subscriptions
    group by person_id
),

-- RFM over payers (people with at least one successful paid charge): recency = days from the
-- last active day to the as-of date (fewer is better; the last charge would only say when the
-- automatic billing cycle started), frequency = paid charges, monetary = lifetime net revenue.
-- Worst first, so the best quintile scores 5.
payers as (
    select
        person_id,
        dateDiff(
            'day',
            if(last_active_date > toDate('1970-01-01'), last_active_date, toDate(last_paid_event_at)),
            (select as_of_date from as_of)
        ) as recency_days,
        paid_charges,
        net_revenue
    from event_stats
    where paid_charges > 0
),

rfm as (
    select
        person_id,
        recency_days,
        {{ users_quintile_score('recency_days desc') }} as recency_score,
        {{ users_quintile_score('paid_charges') }} as frequency_score,
        {{ users_quintile_score('net_revenue') }} as monetary_score
    from payers
),

final as (
    select
        persons.person_id as person_id,
        persons.user_id as user_id,
        persons.is_registered as is_registered,
        persons.is_test_account as is_test_account,
        cast(coalesce((select as_of_date from as_of), toDate('1970-01-01')) as Date) as as_of_date,

        -- Demographics (registered users only).
        cast(users.birth_year as Nullable(UInt16)) as birth_year,
        cast(
            if(users.birth_year is null, null, toYear((select as_of_date from as_of)) - users.birth_year)
            as Nullable(Int16)
        ) as age,
        cast({{ users_age_band('age') }} as LowCardinality(Nullable(String))) as age_band,
        cast(users.gender as LowCardinality(Nullable(String))) as gender,
        cast(users.city as LowCardinality(Nullable(String))) as city,
        cast(users.region as LowCardinality(Nullable(String))) as region,

        -- First touch and acquisition.
        persons.first_seen_at as first_seen_at,
        persons.first_seen_date as first_seen_date,
        persons.first_platform as first_platform,
        cast(event_stats.first_event_type as LowCardinality(Nullable(String))) as first_event_type,
        persons.acquisition_channel as acquisition_channel,
        event_stats.acquisition_touch.2 as acquisition_source,
        event_stats.acquisition_touch.3 as acquisition_medium,
        event_stats.acquisition_touch.4 as acquisition_campaign,
        event_stats.acquisition_touch.5 as acquisition_referrer,
        persons.registered_at as registered_at,
        persons.last_seen_at as last_seen_at,

        -- Devices and platforms.
        coalesce(person_devices.device_hubs, []) as devices,
        toUInt64(length(coalesce(person_devices.device_hubs, []))) as device_count,
        coalesce(event_stats.platforms, []) as platforms,
        toUInt64(length(platforms)) as platform_count,

        -- Activity.
        toUInt64(coalesce(event_stats.days_active_7d, 0)) as days_active_7d,
        toUInt64(coalesce(event_stats.days_active_30d, 0)) as days_active_30d,
        toUInt64(coalesce(event_stats.days_active_90d, 0)) as days_active_90d,
        toUInt64(coalesce(event_stats.days_active_lifetime, 0)) as days_active_lifetime,
        toUInt64(coalesce(session_stats.sessions, 0)) as sessions,
        persons.events as events,

        -- Viewing.
        toUInt64(coalesce(view_stats.plays, 0)) as plays,
        toUInt64(coalesce(view_stats.valid_plays, 0)) as valid_plays,
        toUInt64(coalesce(view_stats.complete_plays, 0)) as complete_plays,
        round(coalesce(view_stats.played_sec, 0) / 3600, 4) as watch_hours,
        round(coalesce(view_stats.unique_watched_sec, 0) / 3600, 4) as unique_watch_hours,
        coalesce(favourite_genres.genres, []) as favourite_genres,

        -- Subscription and money.
        cast(coalesce(subscription_stats.subscription_state, 'never') as LowCardinality(String))
            as subscription_state,
        if(subscription_state in ('never', 'churned'), null, subscription_stats.best_plan_id)
            as current_plan_id,
        if(subscription_state in ('never', 'churned'), null, subscription_stats.best_period_end_at)
            as current_period_end_at,
        toUInt64(coalesce(subscription_stats.subscriptions, 0)) as subscriptions,
        persons.first_paid_at as first_paid_at,
        if(coalesce(event_stats.paid_charges, 0) > 0, toDateTime64(event_stats.last_paid_event_at, 3, 'UTC'), null)
            as last_paid_at,
        toUInt64(coalesce(event_stats.paid_charges, 0)) as paid_charges,
        toUInt64(coalesce(event_stats.refunds, 0)) as refunds,
        toDecimal64(coalesce(event_stats.net_revenue, 0), 2) as lifetime_net_revenue,

        -- RFM (0 = not a payer).
        cast(rfm.recency_days as Nullable(Int64)) as rfm_recency_days,
        toUInt8(coalesce(rfm.recency_score, 0)) as recency_score,
        toUInt8(coalesce(rfm.frequency_score, 0)) as frequency_score,
        toUInt8(coalesce(rfm.monetary_score, 0)) as monetary_score,
        cast({{ users_rfm_segment('recency_score', 'frequency_score', 'monetary_score') }} as LowCardinality(String))
            as rfm_segment,

        -- Filled by the segments models; empty until then.
        cast([] as Array(String)) as segments
    from persons
    left join users on persons.user_id = users.user_id
    left join person_devices on persons.person_id = person_devices.person_id
    left join event_stats on persons.person_id = event_stats.person_id
    left join session_stats on persons.person_id = session_stats.person_id
    left join view_stats on persons.person_id = view_stats.person_id
    left join favourite_genres on persons.person_id = favourite_genres.person_id
    left join subscription_stats on persons.person_id = subscription_stats.person_id
    left join rfm on persons.person_id = rfm.person_id
    settings join_use_nulls = 1
)

select * from final
