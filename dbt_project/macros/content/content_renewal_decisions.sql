{#
    Query of renewal decisions of subscribers: one row per decision (person_id, decision_at,
    decision_date, is_renewed). A renewal decision is a charge that continued paid access (a
    `renewal`, or a `first_payment` after the person's trial: the trial's renewal); a
    cancellation is a `cancellation` touch (by the subscriber). Involuntary ends (failed
    autopayments) are not decisions about the content and are left out.
#}
{% macro content_renewal_decisions(events) -%}
    select
        person_id,
        event_at as decision_at,
        event_date as decision_date,
        event_type != 'cancellation' as is_renewed,
        event_id
    from (
        select
            person_id,
            event_id,
            event_at,
            event_date,
            event_type,
            min(if(event_type = 'trial_start', event_at, null)) over (partition by person_id)
                as first_trial_at
        from {{ events }}
        where event_type in ('trial_start', 'first_payment', 'renewal', 'cancellation')
    )
    where event_type in ('renewal', 'cancellation')
        or (event_type = 'first_payment' and first_trial_at is not null and first_trial_at < event_at)
{%- endmacro %}
