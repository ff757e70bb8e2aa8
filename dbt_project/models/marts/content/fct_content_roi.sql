{{
    config(
        order_by='(content_type, content_id)',
    )
}}

{#-
    A table rebuilt on every run (one row per costed title, small): a refund or a late view
    changes the split of a payment made weeks earlier.
-#}

{%- set acquisition_share = var('content_acquisition_credit_share', 0.5) %}
{%- set original_days = var('content_original_amortisation_days', 1095) %}
{%- set range_start = var('content_roi_start_date', none) %}
{%- set range_end = var('content_roi_end_date', none) %}

-- One row per costed catalogue title (film or series), plus the `(unattributed)` bucket.
with

events as (
    select * from {{ ref('int_events') }}
),

data_range as (
    select
        {{ "toDate('" ~ range_start ~ "')" if range_start else 'min(event_date)' }} as start_date,
        {{ "toDate('" ~ range_end ~ "')" if range_end else 'max(event_date)' }} as end_date
    from events
),

hierarchy as (
    {{ content_hierarchy(ref('stg_content_catalog__content')) }}
),

-- Views with the costed title they belong to (an episode's series, a film itself).
views as (
    select
        views.person_id as person_id,
        views.started_at as started_at,
        views.view_date as view_date,
        if(hierarchy.title_id = '', views.content_id, hierarchy.title_id) as title_id,
        views.unique_watched_sec as unique_watched_sec,
        -- Integer milliseconds: weights of the exact integer split below.
        toUInt64(round(views.unique_watched_sec * 1000)) as watched_ms
    from {{ ref('int_player_views') }} as views
    left join hierarchy on views.content_id = hierarchy.content_id
),

-- Successful charges with the period each pays for: until the subscription's next charge, or
-- for its latest charge until the end of its current period (a trial's card binding pays for
-- the trial until the first paid charge).
charges as (
    select
        payment_id,
        created_at,
        coalesce(
            leadInFrame(toNullable(created_at)) over (
                partition by subscription_id order by created_at, payment_id
                rows between current row and unbounded following
            ),
            subscriptions.current_period_end_at,
            subscriptions.ended_at,
            addMonths(created_at, 1)
        ) as covered_until
    from {{ ref('stg_billing__payments') }} as payments
    left join {{ ref('stg_billing__subscriptions') }} as subscriptions
        on payments.subscription_id = subscriptions.subscription_id
    where payments.is_succeeded and not payments.is_test
),

-- Money of the analysed range: every int_events touch with a value (charges and refunds; a
-- refund splits like the charge it returns).
money as (
    select
        events.event_id as event_id,
        events.person_id as person_id,
        events.event_type as event_type,
        events.event_at as event_at,
        toInt64(events.value * 100) as cents,
        -- Unmatched joins give defaults ('' ids): money without a known charge covers a month.
        if(charges.payment_id != '', charges.created_at, events.event_at) as covered_from,
        greatest(
            if(charges.payment_id != '', charges.covered_until, addMonths(events.event_at, 1)),
            covered_from
        ) as covered_until
    from events
    left join {{ ref('stg_billing__refunds') }} as refunds
        on events.event_type = 'refund'
        and replaceRegexpOne(events.event_id, '^billing:refund:', '') = refunds.refund_id
    left join charges
        on charges.payment_id = if(
            events.event_type = 'refund',
            refunds.payment_id,
            replaceRegexpOne(events.event_id, '^billing:payment:', '')
        )
    where events.value != 0
        and events.event_date between (select start_date from data_range)
            and (select end_date from data_range)
),

-- Watch time of the payer per title in the period the money pays for.
period_weights as (
    select
        money.event_id as event_id,
        views.title_id as title_id,
        sum(views.watched_ms) as weight
    from money
    inner join views on money.person_id = views.person_id
    where views.started_at >= money.covered_from and views.started_at < money.covered_until
    group by event_id, title_id
    having weight > 0
),

-- Watch time per title before the person's first payment: the acquisition credit's basis.
acquisition_weights as (
    select
        money.event_id as event_id,
        views.title_id as title_id,
        sum(views.watched_ms) as weight
    from money
    inner join views on money.person_id = views.person_id
    where money.event_type = 'first_payment' and views.started_at < money.event_at
    group by event_id, title_id
    having weight > 0
),

-- Each amount in two parts: the acquisition share of a first payment (when the person
-- watched something before it) and the rest, split over the period's viewing.
components as (
    select
        event_id,
        component,
        part_cents
    from (
        select
            event_id,
            cents,
            if(
                event_type = 'first_payment' and event_id in (select event_id from acquisition_weights),
                toInt64(round(cents * {{ acquisition_share }})),
                0
            ) as acquisition_cents
        from money
    )
    array join
        ['period', 'acquisition'] as component,
        [cents - acquisition_cents, acquisition_cents] as part_cents
    where part_cents != 0
),

-- Allocation lines; a part with no viewing to split over goes to '(unattributed)'.
lines as (
    select
        components.event_id as event_id,
        components.component as component,
        components.part_cents as part_cents,
        if(weights.weight > 0, weights.title_id, '(unattributed)') as title_id,
        if(weights.weight > 0, weights.weight, 1) as weight
    from components
    left join (
        select event_id, 'period' as component, title_id, weight from period_weights
        union all
        select event_id, 'acquisition' as component, title_id, weight from acquisition_weights
    ) as weights
        on components.event_id = weights.event_id and components.component = weights.component
),

-- Largest-remainder split in whole kopecks: each title gets the integer part of its share,
-- and the kopecks left go one each to the largest remainders (ties by title id), so the
-- parts of every amount add up to it exactly.
allocated as (
    select
        event_id,
        component,
        title_id,
        sign(part_cents) * (base_cents + if(remainder_rank <= left_cents, 1, 0)) as credited_cents
    from (
        select
            *,
            toInt64(abs(part_cents)) - toInt64(sum(base_cents) over by_part) as left_cents,
            row_number() over (by_part order by remainder desc, title_id) as remainder_rank
        from (
            select
                event_id,
                component,
                title_id,
                part_cents,
                toUInt64(abs(part_cents)) * weight as scaled,
                sum(weight) over (partition by event_id, component) as total_weight,
                intDiv(scaled, total_weight) as base_cents,
                scaled % total_weight as remainder
            from lines
        )
        window by_part as (partition by event_id, component)
    )
),

credited as (
    select
        title_id,
        sumIf(credited_cents, component = 'period') as period_cents,
        sumIf(credited_cents, component = 'acquisition') as acquisition_cents
    from allocated
    group by title_id
),

watching as (
    select
        title_id,
        uniqExact(person_id) as viewers,
        sum(unique_watched_sec) / 3600 as watch_hours
    from views
    where view_date between (select start_date from data_range) and (select end_date from data_range)
    group by title_id
),

costs as (
    select
        content_id,
        content_type,
        title,
        is_original,
        if(licence_cost > 0, 'licence', if(production_cost > 0, 'production', 'none')) as cost_type,
        cast(coalesce(nullIf(licence_cost, 0), production_cost, 0) as Decimal(18, 2)) as total_cost,
        multiIf(
            cost_type = 'licence', licence_start_date,
            cost_type = 'production', toNullable(toDate(created_at)),
            null
        ) as amortisation_start_date,
        multiIf(
            cost_type = 'licence', licence_end_date,
            cost_type = 'production', toNullable(addDays(toDate(created_at), {{ original_days }} - 1)),
            null
        ) as amortisation_end_date
    from {{ ref('stg_content_catalog__content') }}
    where content_type in ('film', 'series')
),

titles as (
    select content_id as title_id from costs
    union distinct
    select title_id from credited
),

final as (
    select
        titles.title_id as content_id,
        cast(multiIf(
            titles.title_id = '(unattributed)', '(unattributed)', costs.content_type = '', 'unknown',
            costs.content_type
        ) as LowCardinality(String)) as content_type,
        if(
            titles.title_id = '(unattributed)',
            'Revenue of payers who watched nothing',
            ifNull(costs.title, '')
        ) as title,
        cast(costs.is_original as Bool) as is_original,
        cast(if(costs.cost_type = '', 'none', costs.cost_type) as LowCardinality(String)) as cost_type,
        costs.total_cost as total_cost,
        costs.amortisation_start_date as amortisation_start_date,
        costs.amortisation_end_date as amortisation_end_date,
        assumeNotNull((select start_date from data_range)) as analysed_start_date,
        assumeNotNull((select end_date from data_range)) as analysed_end_date,
        -- Days of the amortisation period inside the analysed range.
        toUInt32(if(
            costs.amortisation_start_date is null or costs.amortisation_end_date is null,
            0,
            greatest(0, dateDiff(
                'day',
                greatest(assumeNotNull(costs.amortisation_start_date), analysed_start_date),
                least(assumeNotNull(costs.amortisation_end_date), analysed_end_date)
            ) + 1)
        )) as amortised_days,
        cast(if(
            amortised_days = 0,
            0,
            -- Decimal division truncates: divide at 8 decimals, then round to kopecks.
            ifNull(round(toDecimal128(costs.total_cost, 8) * amortised_days
                / (dateDiff('day', costs.amortisation_start_date, costs.amortisation_end_date) + 1), 2), 0)
        ) as Decimal(18, 2)) as amortised_cost,
        toUInt64(watching.viewers) as viewers,
        watching.watch_hours as watch_hours,
        -- Kopecks to roubles in Decimal: a Float64 division would truncate a kopeck away.
        toDecimal64(credited.period_cents, 2) / 100 as period_revenue,
        toDecimal64(credited.acquisition_cents, 2) / 100 as acquisition_revenue,
        toDecimal64(credited.period_cents + credited.acquisition_cents, 2) / 100 as credited_revenue,
        if(
            amortised_cost > 0,
            (toFloat64(credited_revenue) - toFloat64(amortised_cost)) / toFloat64(amortised_cost),
            null
        ) as roi
    from titles
    left join costs on titles.title_id = costs.content_id
    left join credited on titles.title_id = credited.title_id
    left join watching on titles.title_id = watching.title_id
)

select * from final
