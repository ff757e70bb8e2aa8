{{
    config(
        order_by='(churn_saver_rank, content_id)',
    )
}}

{#- A table rebuilt on every run: one row per costed title, small. -#}

{%- set window_days = var('churn_saver_window_days', 14) %}
{%- set min_watched_sec = var('churn_saver_min_watched_sec', 600) %}

-- One row per catalogue title (film or series): who watched it before renewing vs cancelling.
with

hierarchy as (
    {{ content_hierarchy(ref('stg_content_catalog__content')) }}
),

decisions as (
    {{ content_renewal_decisions(ref('int_events')) }}
),

views as (
    select
        views.person_id as person_id,
        views.started_at as started_at,
        if(hierarchy.title_id = '', views.content_id, hierarchy.title_id) as title_id,
        views.unique_watched_sec as unique_watched_sec
    from {{ ref('int_player_views') }} as views
    left join hierarchy on views.content_id = hierarchy.content_id
),

-- Titles each decider watched (at least `churn_saver_min_watched_sec` unique seconds) in the
-- window before the decision.
watched as (
    select
        decisions.event_id as decision_id,
        any(decisions.is_renewed) as is_renewed,
        views.title_id as title_id
    from decisions
    inner join views on decisions.person_id = views.person_id
    where views.started_at < decisions.decision_at
        and views.started_at >= addDays(decisions.decision_at, -{{ window_days }})
    group by decision_id, title_id
    having sum(views.unique_watched_sec) >= {{ min_watched_sec }}
),

totals as (
    select
        countIf(is_renewed) as renewals,
        countIf(not is_renewed) as cancellations
    from decisions
),

by_title as (
    select
        title_id,
        countIf(is_renewed) as renewals_watched,
        countIf(not is_renewed) as cancellations_watched
    from watched
    group by title_id
),

titles as (
    select content_id as title_id from hierarchy where content_type in ('film', 'series')
    union distinct
    select title_id from by_title
),

scored as (
    select
        titles.title_id as content_id,
        cast(if(hierarchy.content_type = '', 'unknown', hierarchy.content_type) as LowCardinality(String))
            as content_type,
        hierarchy.title as title,
        cast(hierarchy.is_original as Bool) as is_original,
        toUInt64(ifNull((select renewals from totals), 0)) as renewals,
        toUInt64(ifNull((select cancellations from totals), 0)) as cancellations,
        toUInt64(by_title.renewals_watched) as renewals_watched,
        toUInt64(by_title.cancellations_watched) as cancellations_watched,
        if(renewals > 0, renewals_watched / renewals, null) as renewer_watch_share,
        if(cancellations > 0, cancellations_watched / cancellations, null) as canceller_watch_share,
        if(canceller_watch_share > 0, renewer_watch_share / canceller_watch_share, null) as lift,
        -- Add-one smoothing: a title seen by one renewer and no canceller is not infinitely good.
        ((renewals_watched + 1) / (renewals + 2)) / ((cancellations_watched + 1) / (cancellations + 2))
            as smoothed_lift
    from titles
    left join hierarchy on titles.title_id = hierarchy.content_id
    left join by_title on titles.title_id = by_title.title_id
),

final as (
    select
        *,
        toUInt32(row_number() over (
            order by smoothed_lift desc, renewals_watched + cancellations_watched desc, content_id
        )) as churn_saver_rank
    from scored
)

select * from final
