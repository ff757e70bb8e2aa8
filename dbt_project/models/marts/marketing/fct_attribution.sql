{{ config(
    order_by='(attribution_model, conversion_type, conversion_date, conversion_id, touchpoint_position)',
    partition_by='toYYYYMM(conversion_date)',
) }}

{#-
    Rebuilt on every run: identity resolution can move old sessions to another person and a
    late refund changes an old payment's net value, so any conversion's credits can change.
    Months partition it for the monthly ROMI reads.
-#}

{%- set lookback_days = var('attribution_lookback_days', 30) %}
{%- set half_life_days = var('attribution_half_life_days', 7) %}

-- One row per conversion, touchpoint and attribution model.
with

events as (
    select * from {{ ref('int_events') }}
),

sessions as (
    select * from {{ ref('int_sessions') }}
),

refunds as (
    select * from {{ ref('stg_billing__refunds') }}
),

refunded_payments as (
    select
        concat('billing:refund:', refund_id) as refund_event_id,
        concat('billing:payment:', payment_id) as payment_event_id
    from refunds
),

-- Registrations, trial starts, every successful charge and every refund. A refund is credited
-- like the payment it refunds (its anchor), so attributed revenue nets out per touchpoint.
conversions as (
    select
        events.event_id as conversion_id,
        events.person_id as person_id,
        events.event_type as conversion_type,
        events.event_at as conversion_at,
        events.value as conversion_value,
        if(events.event_type = 'refund', refunded_payments.payment_event_id, null) as refunded_conversion_id,
        coalesce(refunded_conversion_id, events.event_id) as anchor_id
    from events
    left join refunded_payments on events.event_id = refunded_payments.refund_event_id
    where events.event_type in (
        'registration', 'trial_start', 'first_payment', 'renewal', 'reactivation', 'refund'
    )
    settings join_use_nulls = 1
),

anchors as (
    select
        conversion_id as anchor_id,
        person_id,
        conversion_at as anchor_at
    from conversions
    where conversion_type != 'refund'
),

-- Entry touches: sessions of the person that started within the lookback window before the
-- conversion (the conversion's own session included). Anchors are the hash table side.
windowed_sessions as (
    select
        anchors.anchor_id as anchor_id,
        anchors.anchor_at as anchor_at,
        sessions.session_id as session_id,
        sessions.started_at as started_at,
        sessions.channel as channel,
        sessions.platform as platform,
        sessions.utm_source as utm_source,
        sessions.utm_medium as utm_medium,
        sessions.utm_campaign as utm_campaign
    from sessions
    inner join anchors on sessions.person_id = anchors.person_id
    where sessions.started_at <= anchors.anchor_at
        and sessions.started_at >= anchors.anchor_at - toIntervalDay({{ lookback_days }})
),

-- Each anchor's touchpoints in time order (session id breaks ties), as parallel arrays.
touch_paths as (
    select
        anchor_id,
        arraySort(groupArray((
            started_at, session_id, toString(channel), toString(platform),
            utm_source, utm_medium, utm_campaign
        ))) as touches
    from windowed_sessions
    group by anchor_id
),

-- Without a touchpoint in the window a conversion gets one synthetic `direct` touchpoint.
paths as (
    select
        anchors.anchor_id as anchor_id,
        anchors.anchor_at as anchor_at,
        length(touch_paths.touches) = 0 as is_synthetic,
        greatest(length(touch_paths.touches), 1) as touch_count,
        arrayMap(t -> t.1, touch_paths.touches) as touch_times,
        arrayMap(t -> t.2, touch_paths.touches) as session_ids,
        if(is_synthetic, ['direct'], arrayMap(t -> t.3, touch_paths.touches)) as channels,
        arrayMap(t -> t.4, touch_paths.touches) as platforms,
        arrayMap(t -> t.5, touch_paths.touches) as utm_sources,
        arrayMap(t -> t.6, touch_paths.touches) as utm_mediums,
        arrayMap(t -> t.7, touch_paths.touches) as utm_campaigns,
        if(
            is_synthetic,
            [0.0],
            arrayMap(t -> dateDiff('millisecond', t, anchors.anchor_at) / 86400000.0, touch_times)
        ) as days_before,
        -- The last touch that is not direct, else the last touch.
        arrayLastIndex(c -> c != 'direct', channels) as last_non_direct_index,
        if(last_non_direct_index = 0, touch_count, last_non_direct_index) as last_non_direct_position,
        arrayMap(d -> exp2(-d / {{ half_life_days }}), days_before) as decay_weights
    from anchors
    left join touch_paths on anchors.anchor_id = touch_paths.anchor_id
),

touchpoints as (
    select
        anchor_id,
        touch_count,
        is_synthetic,
        position,
        if(is_synthetic, null, session_ids[position]) as session_id,
        if(is_synthetic, null, touch_times[position]) as touchpoint_at,
        channels[position] as channel,
        if(is_synthetic, null, platforms[position]) as platform,
        if(is_synthetic, null, utm_sources[position]) as utm_source,
        if(is_synthetic, null, utm_mediums[position]) as utm_medium,
        if(is_synthetic, null, utm_campaigns[position]) as utm_campaign,
        days_before[position] as days_before_conversion,
        [
            ('first_touch', toFloat64(position = 1)),
            ('last_touch', toFloat64(position = touch_count)),
            ('last_non_direct', toFloat64(position = last_non_direct_position)),
            ('linear', 1.0 / touch_count),
            ('position_based', multiIf(
                touch_count = 1, 1.0,
                touch_count = 2, 0.5,
                position = 1 or position = touch_count, 0.4,
                0.2 / (touch_count - 2)
            )),
            ('time_decay', decay_weights[position] / arraySum(decay_weights))
        ] as model_credits
    from paths
    array join arrayEnumerate(channels) as position
),

credited as (
    select
        anchor_id,
        touch_count,
        is_synthetic,
        position,
        session_id,
        touchpoint_at,
        channel,
        platform,
        utm_source,
        utm_medium,
        utm_campaign,
        days_before_conversion,
        model_credit.1 as attribution_model,
        model_credit.2 as credit
    from touchpoints
    array join model_credits as model_credit
),

final as (
    select
        conversions.conversion_id as conversion_id,
        cast(conversions.conversion_type as LowCardinality(String)) as conversion_type,
        conversions.person_id as person_id,
        conversions.conversion_at as conversion_at,
        toDate(conversions.conversion_at) as conversion_date,
        conversions.conversion_value as conversion_value,
        conversions.refunded_conversion_id as refunded_conversion_id,
        cast(credited.attribution_model as LowCardinality(String)) as attribution_model,
        toUInt16(credited.position) as touchpoint_position,
        toUInt16(credited.touch_count) as touchpoint_count,
        cast(credited.is_synthetic as Bool) as is_synthetic_touchpoint,
        credited.session_id as session_id,
        toDateTime64(credited.touchpoint_at, 3, 'UTC') as touchpoint_at,
        cast(credited.channel as LowCardinality(String)) as channel,
        cast(credited.platform as LowCardinality(Nullable(String))) as platform,
        credited.utm_source as utm_source,
        credited.utm_medium as utm_medium,
        credited.utm_campaign as utm_campaign,
        coalesce(credited.utm_campaign, '(not set)') as campaign,
        credited.days_before_conversion as days_before_conversion,
        credited.credit as credit,
        -- No credit, no revenue (and no -0.0 from a refund).
        if(credited.credit = 0, 0.0, credited.credit * toFloat64(conversions.conversion_value))
            as attributed_revenue
    from credited
    inner join conversions on credited.anchor_id = conversions.anchor_id
)

select * from final
