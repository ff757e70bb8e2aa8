-- A person has at most one first payment, and nobody renews or reactivates before it.
with

events as (
    select * from {{ ref('int_events') }}
),

per_person as (
    select
        person_id,
        countIf(event_type = 'first_payment') as first_payments,
        minIf(event_at, event_type = 'first_payment') as first_payment_at,
        minIf(event_at, event_type in ('renewal', 'reactivation')) as first_later_charge_at,
        countIf(event_type in ('renewal', 'reactivation')) as later_charges
    from events
    group by person_id
),

final as (
    select * from per_person
    where first_payments > 1
        or (later_charges > 0 and (first_payments = 0 or first_later_charge_at < first_payment_at))
)

select * from final
