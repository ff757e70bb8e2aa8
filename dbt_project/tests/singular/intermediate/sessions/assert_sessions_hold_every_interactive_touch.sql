-- Every touch but billing's belongs to a session, billing touches to none, and the sessions'
-- touch counts add up to the touches that carry a session.
with

events as (
    select * from {{ ref('int_events') }}
),

sessions as (
    select * from {{ ref('int_sessions') }}
),

misplaced as (
    select
        'touch without the right session' as problem,
        count() as touches
    from events
    where (source != 'billing') != (session_id is not null)
),

totals as (
    select
        'session touch counts differ' as problem,
        toUInt64(abs(
            toInt64((select sum(events) from sessions))
            - toInt64((select count() from events where session_id is not null))
        )) as touches
),

final as (
    select * from misplaced
    union all
    select * from totals
)

select * from final where touches > 0
