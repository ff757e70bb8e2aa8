-- Ad-hoc funnel: one row per person. Visit -> registration within an hour of the visit ->
-- trial (optional) -> first payment 6 to 8 days after the step before it (a trial that
-- converted, or a direct purchase a week on), no cancellation between trial and payment;
-- every visit may open an attempt. Breakdown: platform of the furthest step (last touch).
-- `dbt compile -s funnel_with_step_gaps` prints the SQL; wrap it with funnel_summary for step
-- figures (see funnel_summary_by_channel).
{%- set steps = [
    {'name': 'visit', 'event_type': 'visit'},
    {'name': 'registration', 'event_type': 'registration', 'max_gap_seconds': 3600},
    {'name': 'trial_start', 'event_type': 'trial_start', 'optional': true},
    {'name': 'first_payment', 'event_type': 'first_payment',
     'min_gap_seconds': 6 * 86400, 'max_gap_seconds': 8 * 86400},
] %}

with

events as (
    select person_id, event_at, event_seq, event_type, platform from {{ ref('int_events') }}
),

funnel as (
    {{ funnel_persons(
        'events',
        steps,
        window_seconds=30 * 86400,
        exclusions=[{'event_type': 'cancellation', 'from_step': 'trial_start', 'to_step': 'first_payment'}],
        breakdowns=[{'name': 'last_platform', 'expression': 'platform', 'attribution': 'last_touch'}],
    ) }}
)

select * from funnel
