{{
    config(
        order_by='(person_id, seq)',
        partition_by='toYYYYMM(event_date)',
    )
}}

{#-
    A table rebuilt on every run: `seq` numbers a person's whole history, so one late touch or
    an identity merge renumbers everything after it; an incremental window could not keep it
    gap-free. Sorted by (person_id, seq) so a user-360 page reads one person's journey in order
    from a narrow range; monthly partitions (as int_events) keep parts bounded as history grows
    and let date-bounded reads prune.
-#}

-- One row per touch of int_events: the person's journey in order, with a readable label.
with

-- Numbered on int_events' own columns, before the joins add labels and titles: the window
-- sorts (scattered by person across threads) only what it needs.
events as (
    select
        person_id,
        event_id,
        event_at,
        event_date,
        event_seq,
        event_type,
        source,
        platform,
        session_id,
        channel,
        content_id,
        value,
        utm_source,
        utm_medium,
        utm_campaign,
        referrer,
        event_name,
        toUInt64(row_number() over person_order) as seq,
        if(
            seq = 1,
            null,
            toFloat64(dateDiff('millisecond', lagInFrame(event_at) over person_order, event_at)) / 1000
        ) as seconds_since_previous,
        -- The source's own id of the touch: what follows `<source>:<kind>:` in event_id.
        arrayStringConcat(arraySlice(splitByChar(':', event_id), 3), ':') as object_id
    from {{ ref('int_events') }}
    window person_order as (
        partition by person_id order by event_at, event_seq
        rows between unbounded preceding and current row
    )
),

sessions as (
    select session_id, channel from {{ ref('int_sessions') }}
),

content as (
    select content_id, title from {{ ref('stg_content_catalog__content') }}
),

views as (
    select view_id, played_sec, is_complete from {{ ref('int_player_views') }}
),

payments as (
    select payment_id, plan_id, payment_kind, amount, currency, cancellation_reason
    from {{ ref('stg_billing__payments') }}
),

subscriptions as (
    select subscription_id, plan_id from {{ ref('stg_billing__subscriptions') }}
),

enriched as (
    select
        events.person_id as person_id,
        events.event_id as event_id,
        events.event_at as event_at,
        events.event_date as event_date,
        events.event_seq as event_seq,
        events.seq as seq,
        events.seconds_since_previous as seconds_since_previous,
        events.event_type as event_type,
        events.source as source,
        events.platform as platform,
        events.session_id as session_id,
        -- The touch's own channel (entry touches), else that of its session.
        coalesce(events.channel, sessions.channel) as channel,
        events.content_id as content_id,
        content.title as content_title,
        events.value as value,
        events.utm_source as utm_source,
        events.utm_medium as utm_medium,
        events.utm_campaign as utm_campaign,
        events.referrer as referrer,
        events.event_name as event_name,
        views.played_sec as played_sec,
        views.is_complete as is_complete,
        payments.amount as payment_amount,
        payments.currency as currency,
        payments.cancellation_reason as failure_reason,
        coalesce(payments.plan_id, subscriptions.plan_id) as plan_id
    from events
    left join sessions on events.session_id = sessions.session_id
    left join content on events.content_id = content.content_id
    left join views on events.source = 'player' and events.object_id = views.view_id
    left join payments on events.event_id = concat('billing:payment:', payments.payment_id)
    left join subscriptions
        on events.event_type in ('cancellation', 'subscription_end') and events.object_id = subscriptions.subscription_id
    settings join_use_nulls = 1
),

labelled as (
    select
        person_id,
        seq,
        event_id,
        event_at,
        event_date,
        event_seq,
        event_type,
        source,
        platform,
        session_id,
        channel,
        content_id,
        content_title,
        plan_id,
        value,
        seconds_since_previous,
        coalesce(content_title, concat('title ', coalesce(content_id, '?'))) as title_text,
        arrayStringConcat(arrayFilter(x -> x != '', [
            coalesce(utm_source, ''), coalesce(utm_medium, ''), coalesce(utm_campaign, '')
        ]), ' / ') as tags_text,
        concat(toDecimalString(coalesce(payment_amount, abs(value)), 2), ' ', coalesce(currency, 'RUB')) as money_text,
        if(plan_id is null, '', concat(', plan ', plan_id)) as plan_text,
        multiIf(
            event_type = 'visit' and source = 'appmetrica', 'Opened the app',
            event_type = 'visit' and tags_text != '', concat('Visit from ', tags_text),
            event_type = 'visit' and referrer is not null, concat('Visit from ', domain(referrer)),
            event_type = 'visit', 'Direct visit',
            event_type = 'app_install' and tags_text != '', concat('Installed the app from ', tags_text),
            event_type = 'app_install', 'Installed the app',
            event_type = 'page_view', 'Viewed a page',
            event_type = 'screen_view', 'Viewed a screen',
            event_type = 'title_page', concat('Opened the page of ', title_text),
            event_type = 'search', 'Searched',
            event_type = 'registration', 'Registered',
            event_type = 'login', concat('Logged in (', event_name, ')'),
            event_type = 'trial_start', concat('Started a trial, card check ', money_text, plan_text),
            event_type = 'first_payment', concat('Paid ', money_text, ' — first payment', plan_text),
            event_type = 'renewal', concat('Paid ', money_text, ' — renewal', plan_text),
            event_type = 'reactivation', concat('Paid ', money_text, ' — reactivation', plan_text),
            event_type = 'payment_failed',
                concat('Payment of ', money_text, ' failed', if(failure_reason is null, '', concat(' — ', failure_reason)), plan_text),
            event_type = 'refund', concat('Refunded ', money_text),
            event_type = 'cancellation',
                concat('Cancelled the subscription — ', splitByChar(':', event_name)[2], plan_text),
            event_type = 'subscription_end', concat('Subscription ended (', replaceOne(event_name, 'subscription.', ''), ')', plan_text),
            event_type = 'play', concat(
                'Watched ', title_text, ' ',
                if(coalesce(played_sec, 0) < 60,
                    concat(toString(toUInt32(coalesce(played_sec, 0))), ' s'),
                    concat(toString(toUInt32(floor(played_sec / 60 + 0.5))), ' min')),
                if(is_complete, ' (complete)', '')
            ),
            event_type = 'valid_play', concat('Valid play of ', title_text),
            event_type = 'complete', concat('Finished ', title_text),
            event_type
        ) as label_text
    from enriched
),

final as (
    select
        person_id,
        seq,
        event_id,
        event_at,
        event_date,
        event_seq,
        cast(event_type as LowCardinality(String)) as event_type,
        cast(source as LowCardinality(String)) as source,
        cast(platform as LowCardinality(String)) as platform,
        session_id,
        cast(channel as LowCardinality(Nullable(String))) as channel,
        content_id,
        content_title,
        plan_id,
        value,
        -- A label built from a NULL part falls back to the bare event type.
        coalesce(label_text, toString(event_type)) as label,
        seconds_since_previous
    from labelled
)

select * from final
