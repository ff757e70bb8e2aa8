{# on_schema_change='fail': a new column needs every month recomputed, so change the schema with --full-refresh. #}
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    on_schema_change='fail',
    engine='MergeTree()',
    partition_by='toYYYYMM(event_date)',
    order_by='(person_id, event_at, event_seq)',
) }}
-- One row per touch of a person, from every source, each touch once; with the person, the
-- 30-minute session it belongs to and its channel attributes.
-- Incremental, monthly partitions, insert_overwrite: a run recomputes whole months (lookback
-- window, months with late-loaded rows, months whose people were re-attributed by identity or
-- whose payments were reclassified) and swaps them in, so the table always equals a full
-- rebuild. Sorted by person and time: journeys, funnels and sessions read one person's events
-- in order; monthly partitions keep date-range scans cheap.
{#- The touches of every source, shared by the month query below and the model. -#}
{% set touch_ctes %}
visits as (
    select * from {{ ref('stg_yandex_metrica__visits') }} where not is_bot
),

hits as (
    select * from {{ ref('stg_yandex_metrica__hits') }} where not is_bot and is_page_view
),

app_sessions as (
    select * from {{ ref('stg_appmetrica__sessions_starts') }} where not is_test_build
),

app_events as (
    select * from {{ ref('stg_appmetrica__events') }} where not is_test_build
),

app_installations as (
    select * from {{ ref('stg_appmetrica__installations') }} where not is_test_build
),

users as (
    select * from {{ ref('stg_auth_service__users') }}
),

logins as (
    select * from {{ ref('stg_auth_service__logins') }} where not is_bot
),

payments as (
    select * from {{ ref('stg_billing__payments') }}
),

refunds as (
    select * from {{ ref('stg_billing__refunds') }}
),

subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

views as (
    select * from {{ ref('int_player_views') }}
),

identity as (
    select * from {{ ref('int_identity__ids') }}
),

-- Billing ------------------------------------------------------------------------------------
-- Staff test payments are not revenue, and subscriptions paid with them are not customers'.
test_subscriptions as (
    select distinct subscription_id from payments where is_test and subscription_id is not null
),

-- Successful charges in order per user: the first paid one is the first payment; a later one
-- of a subscription already charged is a renewal; the first charge of another subscription is
-- a reactivation (the person came back after an earlier subscription). Trial card bindings are
-- trial starts. Computed over the whole (small) billing history on every run.
paid_charges as (
    select
        payment_id,
        user_id,
        subscription_id,
        created_at,
        row_number() over by_user as charge_number,
        row_number() over by_subscription as subscription_charge_number
    from payments
    where is_succeeded and not is_test and payment_kind != 'trial'
    window
        by_user as (partition by user_id order by created_at, payment_id),
        by_subscription as (partition by user_id, subscription_id order by created_at, payment_id)
),

payment_events as (
    select
        payments.payment_id as payment_id,
        payments.user_id as user_id,
        payments.created_at as created_at,
        payments.payment_kind as payment_kind,
        payments.status as status,
        payments.amount as amount,
        multiIf(
            payments.status = 'canceled', 'payment_failed',
            payments.payment_kind = 'trial', 'trial_start',
            charges.charge_number = 1, 'first_payment',
            charges.subscription_charge_number > 1, 'renewal',
            'reactivation'
        ) as event_type,
        payments._loaded_at as loaded_at
    from payments
    left join paid_charges as charges on payments.payment_id = charges.payment_id
    where not payments.is_test
        and (payments.status = 'canceled' or payments.is_succeeded)
        and payments.user_id is not null
),

-- Touches, one CTE per source -----------------------------------------------------------------
web_visits as (
    select
        concat('metrica:visit:', visit_id) as event_id,
        'metrica' as source,
        'web' as platform,
        'visit' as event_type,
        'visit' as event_name,
        started_at as event_at,
        addSeconds(started_at, duration_seconds) as activity_end_at,
        cast(null as Nullable(String)) as content_id,
        utm_source,
        utm_medium,
        utm_campaign,
        referrer,
        toDecimal64(0, 2) as value,
        if(user_id_hash is not null, 'metrica_user_id_hash', 'metrica_client_id') as anchor_id_type,
        coalesce(user_id_hash, client_id) as anchor_id_value,
        _loaded_at as loaded_at
    from visits
    where client_id is not null
),

web_page_views as (
    select
        concat('metrica:hit:', hit_id),
        'metrica',
        'web',
        if(page_type = 'title', 'title_page', 'page_view'),
        'pageview',
        hit_at,
        hit_at,
        content_id,
        null,
        null,
        null,
        null,
        toDecimal64(0, 2),
        if(user_id_hash is not null, 'metrica_user_id_hash', 'metrica_client_id'),
        coalesce(user_id_hash, client_id),
        _loaded_at
    from hits
    where client_id is not null
),

app_visits as (
    select
        concat('appmetrica:session:', app_session_key),
        'appmetrica',
        platform,
        'visit',
        'session_start',
        started_at,
        started_at,
        null,
        null,
        null,
        null,
        null,
        toDecimal64(0, 2),
        if(profile_id is not null, 'appmetrica_profile_id', 'appmetrica_device_id'),
        coalesce(profile_id, device_id),
        _loaded_at
    from app_sessions
),

-- app_open, registration, login, trial_start, subscription_purchase and play_start are the
-- app's copies of touches whose system of record is another source (app sessions, auth,
-- billing, player): they are left out so each touch counts once.
app_screens as (
    select
        concat('appmetrica:event:', event_id),
        'appmetrica',
        platform,
        multiIf(event_name = 'title_open', 'title_page', event_name = 'search', 'search', 'screen_view'),
        event_name,
        event_at,
        event_at,
        content_id,
        null,
        null,
        null,
        null,
        toDecimal64(0, 2),
        if(profile_id is not null, 'appmetrica_profile_id', 'appmetrica_device_id'),
        coalesce(profile_id, device_id),
        _loaded_at
    from app_events
    where event_name in ('screen_view', 'title_open', 'search')
),

app_installs as (
    select
        concat('appmetrica:install:', installation_id),
        'appmetrica',
        platform,
        'app_install',
        if(is_reinstallation, 'reinstallation', 'installation'),
        installed_at,
        installed_at,
        null,
        utm_source,
        utm_medium,
        utm_campaign,
        null,
        toDecimal64(0, 2),
        'appmetrica_device_id',
        device_id,
        _loaded_at
    from app_installations
),

signups as (
    select
        user_id,
        argMin(platform, (logged_in_at, login_id)) as signup_platform,
        max(_loaded_at) as signup_loaded_at
    from logins
    where is_signup
    group by user_id
),

registrations as (
    select
        concat('auth:registration:', users.user_id),
        'auth',
        coalesce(nullIf(signups.signup_platform, ''), 'web'),
        'registration',
        'signup',
        users.registered_at,
        users.registered_at,
        null,
        null,
        null,
        null,
        null,
        toDecimal64(0, 2),
        'user_id',
        users.user_id,
        greatest(users._loaded_at, coalesce(signups.signup_loaded_at, users._loaded_at))
    from users
    left join signups on users.user_id = signups.user_id
    where users.registered_at is not null
),

auth_logins as (
    select
        concat('auth:login:', login_id),
        'auth',
        platform,
        'login',
        coalesce(auth_method, 'login'),
        logged_in_at,
        logged_in_at,
        null,
        null,
        null,
        null,
        null,
        toDecimal64(0, 2),
        'user_id',
        user_id,
        _loaded_at
    from logins
    where not is_signup and logged_in_at is not null
),

billing_payments as (
    select
        concat('billing:payment:', payment_id),
        'billing',
        '',
        event_type,
        concat('payment.', status, ':', coalesce(payment_kind, '')),
        created_at,
        created_at,
        null,
        null,
        null,
        null,
        null,
        if(status = 'canceled', toDecimal64(0, 2), amount),
        'billing_customer_id',
        user_id,
        loaded_at
    from payment_events
),

billing_refunds as (
    select
        concat('billing:refund:', refunds.refund_id),
        'billing',
        '',
        'refund',
        'refund.succeeded',
        refunds.created_at,
        refunds.created_at,
        null,
        null,
        null,
        null,
        null,
        -refunds.amount,
        'billing_customer_id',
        payments.user_id,
        greatest(refunds._loaded_at, payments._loaded_at)
    from refunds
    inner join payments on refunds.payment_id = payments.payment_id
    where refunds.is_succeeded and not payments.is_test and payments.user_id is not null
),

-- A cancellation by the subscriber (an exhausted payment retry sets no cancelled_at).
billing_cancellations as (
    select
        concat('billing:cancellation:', subscription_id),
        'billing',
        '',
        'cancellation',
        concat('subscription.cancelled:', coalesce(cancel_reason, '')),
        cancelled_at,
        cancelled_at,
        null,
        null,
        null,
        null,
        null,
        toDecimal64(0, 2),
        'billing_customer_id',
        user_id,
        _loaded_at
    from subscriptions
    where cancelled_at is not null and coalesce(cancel_reason, '') != 'payment_failed'
        and subscription_id not in (select subscription_id from test_subscriptions)
),

billing_ends as (
    select
        concat('billing:subscription_end:', subscription_id),
        'billing',
        '',
        'subscription_end',
        concat('subscription.', coalesce(status, 'ended')),
        ended_at,
        ended_at,
        null,
        null,
        null,
        null,
        null,
        toDecimal64(0, 2),
        'billing_customer_id',
        user_id,
        _loaded_at
    from subscriptions
    where ended_at is not null
        and subscription_id not in (select subscription_id from test_subscriptions)
),

player_touches as (
    select
        concat('player:', kind, ':', view_id),
        'player',
        platform,
        kind,
        multiIf(kind = 'play', 'play_event', kind = 'valid_play', 'valid_play', 'complete'),
        multiIf(kind = 'play', started_at, kind = 'valid_play', assumeNotNull(valid_play_at), assumeNotNull(completed_at)),
        -- A play keeps its session open until the view ends.
        if(kind = 'play', ended_at, multiIf(kind = 'valid_play', assumeNotNull(valid_play_at), assumeNotNull(completed_at))),
        content_id,
        null,
        null,
        null,
        null,
        toDecimal64(0, 2),
        anchor_id_type,
        anchor_id_value,
        loaded_at
    from views
    array join
        arrayFilter(
            k -> k = 'play' or (k = 'valid_play' and is_valid_play) or (k = 'complete' and is_complete),
            ['play', 'valid_play', 'complete']
        ) as kind
),

touches as (
    select * from web_visits
    union all select * from web_page_views
    union all select * from app_visits
    union all select * from app_screens
    union all select * from app_installs
    union all select * from registrations
    union all select * from auth_logins
    union all select * from billing_payments
    union all select * from billing_refunds
    union all select * from billing_cancellations
    union all select * from billing_ends
    union all select * from player_touches
),

dated_touches as (
    select
        * replace (
            assumeNotNull(event_id) as event_id,
            assumeNotNull(event_at) as event_at,
            assumeNotNull(activity_end_at) as activity_end_at
        ),
        toDate(assumeNotNull(event_at)) as event_date
    from touches
    where event_at is not null
),
{% endset %}

{% if is_incremental() %}
{#- The months to rebuild are found by a query of their own before the model runs, so the
    model filters on a list of literals: the rebuild set is computed once, not once per use. -#}
{% set rebuild_sql %}
with

{{ touch_ctes }}

identity_drift as (
    select distinct toYYYYMM(built.event_date) as rebuild_month
    from {{ this }} as built
    inner join identity
        on built.anchor_id_type = identity.id_type and built.anchor_id_value = identity.id_value
    where built.person_id != identity.person_id
),

billing_drift as (
    select distinct toYYYYMM(built.event_date) as rebuild_month
    from {{ this }} as built
    inner join payment_events
        on built.event_id = concat('billing:payment:', payment_events.payment_id)
    where built.source = 'billing' and built.event_type != payment_events.event_type
)

{{ rebuild_months('event_date', 'loaded_at', 'dated_touches', 'event_date',
    'select rebuild_month from identity_drift union distinct select rebuild_month from billing_drift') }}
{% endset %}
{% set months = months_to_rebuild(rebuild_sql) | join(', ') %}
{% endif %}

with

{{ touch_ctes }}


-- The months rebuilt, plus the day before each as context: a session that began just before
-- midnight keeps its id, and a payment finds the platform used in the hours before it.
scoped_touches as (
    select * from dated_touches
    {% if is_incremental() %}
    where toYYYYMM(event_date) in ({{ months }})
        or toYYYYMM(toDate(addDays(event_date, 1))) in ({{ months }})
    {% endif %}
),

channels as (
    -- Entry touches carry channel attributes: web visits and app installs.
    {{ channel_lookup(
        "(select event_id, utm_source, utm_medium, referrer from scoped_touches"
        ~ " where (source = 'metrica' and event_type = 'visit') or event_type = 'app_install')",
        'event_id'
    ) }}
),

attributed as (
    select
        touches.event_id as event_id,
        coalesce(
            identity.person_id,
            {{ anonymous_person_id("concat(touches.anchor_id_type, ':', touches.anchor_id_value)") }}
        ) as person_id,
        touches.source as source,
        touches.platform as touch_platform,
        touches.event_type as event_type,
        touches.event_name as event_name,
        toDateTime64(touches.event_at, 3, 'UTC') as event_at,
        touches.event_date as event_date,
        toDateTime64(greatest(touches.activity_end_at, touches.event_at), 3, 'UTC') as activity_end_at,
        touches.content_id as content_id,
        touches.utm_source as utm_source,
        touches.utm_medium as utm_medium,
        touches.utm_campaign as utm_campaign,
        touches.referrer as referrer,
        nullIf(channels.channel, '') as channel,
        touches.value as value,
        touches.anchor_id_type as anchor_id_type,
        coalesce(touches.anchor_id_value, '') as anchor_id_value,
        touches.loaded_at as loaded_at,
        -- Rank of the kind of touch: breaks ties at the same instant in the natural order
        -- (a visit before its first page, a play before its completion).
        (toUInt64(multiIf(
            touches.event_type = 'app_install', 0,
            touches.event_type = 'visit', 1,
            touches.event_type = 'registration', 2,
            touches.event_type = 'login', 3,
            touches.event_type in ('page_view', 'screen_view', 'title_page', 'search'), 4,
            touches.event_type = 'play', 5,
            touches.event_type = 'valid_play', 6,
            touches.event_type = 'complete', 7,
            touches.event_type = 'trial_start', 8,
            touches.event_type in ('first_payment', 'renewal', 'reactivation', 'payment_failed'), 9,
            touches.event_type = 'refund', 10,
            touches.event_type = 'cancellation', 11,
            12
        )) * 72057594037927936) + (sipHash64(touches.event_id) % 72057594037927936) as event_seq,
        -- Billing has no client: it is the only source whose touches open no session.
        touches.source != 'billing' as is_interactive
    from scoped_touches as touches
    left join identity
        on touches.anchor_id_type = identity.id_type and touches.anchor_id_value = identity.id_value
    left join channels on touches.event_id = channels.event_id
),

-- Payments happen on whatever platform the person used last: the platform of their latest
-- interactive touch in the 24 hours before (web, where checkout lives, when there is none).
platformed as (
    select
        *,
        maxIf(event_at, is_interactive) over person_timeline as last_interactive_at,
        argMaxIf(touch_platform, (event_at, event_seq), is_interactive) over person_timeline as last_platform,
        if(
            is_interactive,
            touch_platform,
            if(last_interactive_at >= event_at - interval 1 day and last_platform != '', last_platform, 'web')
        ) as platform
    from attributed
    window person_timeline as (
        partition by person_id order by event_at, event_seq rows between unbounded preceding and current row
    )
),

-- Sessions: per person and platform, a touch more than the timeout after the end of all
-- earlier activity (a visit's duration, a playback) starts a new session.
gaps as (
    select
        *,
        max(activity_end_at) over session_timeline as previous_activity_end_at,
        row_number() over session_timeline as timeline_number
    from platformed
    where is_interactive
    window session_timeline as (
        partition by person_id, platform order by event_at, event_seq rows between unbounded preceding and 1 preceding
    )
),

numbered as (
    select
        *,
        {{ is_new_session('event_at', 'previous_activity_end_at', 'timeline_number') }} as is_session_start,
        sum(toUInt64(is_session_start)) over (
            partition by person_id, platform order by event_at, event_seq rows between unbounded preceding and current row
        ) as session_number
    from gaps
),

sessionised as (
    select
        event_id,
        first_value(event_id) over (
            partition by person_id, platform, session_number order by event_at, event_seq
            rows between unbounded preceding and unbounded following
        ) as session_first_event_id
    from numbered
),

final as (
    select
        platformed.event_id as event_id,
        assumeNotNull(platformed.person_id) as person_id,
        platformed.event_at as event_at,
        platformed.event_date as event_date,
        platformed.event_seq as event_seq,
        cast(platformed.source as LowCardinality(String)) as source,
        cast(platformed.platform as LowCardinality(String)) as platform,
        cast(platformed.event_type as LowCardinality(String)) as event_type,
        if(
            sessionised.session_first_event_id != '',
            lower(hex(sipHash128(sessionised.session_first_event_id))),
            null
        ) as session_id,
        platformed.content_id as content_id,
        platformed.utm_source as utm_source,
        platformed.utm_medium as utm_medium,
        platformed.utm_campaign as utm_campaign,
        platformed.referrer as referrer,
        cast(platformed.channel as LowCardinality(Nullable(String))) as channel,
        toDecimal64(platformed.value, 2) as value,
        platformed.event_name as event_name,
        platformed.activity_end_at as activity_end_at,
        cast(platformed.anchor_id_type as LowCardinality(String)) as anchor_id_type,
        platformed.anchor_id_value as anchor_id_value,
        platformed.loaded_at as loaded_at
    from platformed
    left join sessionised on platformed.event_id = sessionised.event_id
    {% if is_incremental() %}
    where toYYYYMM(platformed.event_date) in ({{ months }})
    {% endif %}
)

select * from final
