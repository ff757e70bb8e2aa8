-- Active counts move only by the day's movements: per plan and channel, active_subscribers(D) =
-- active_subscribers(D-1) + new_subscriptions + reactivations - churned_voluntary -
-- churned_involuntary, and active_trials(D) = active_trials(D-1) + trials_started -
-- trial_conversions - trials_ended. Returns the days that break either.
with

days as (
    select
        *,
        lagInFrame(toInt64(active_subscribers), 1, 0) over by_slice as previous_subscribers,
        lagInFrame(toInt64(active_trials), 1, 0) over by_slice as previous_trials
    from {{ ref('fct_subscriptions_daily') }}
    window by_slice as (
        partition by plan_id, acquisition_channel order by subscription_date
        rows between unbounded preceding and current row
    )
),

final as (
    select *
    from days
    where toInt64(active_subscribers) != previous_subscribers + new_subscriptions + reactivations
            - churned_voluntary - churned_involuntary
        or toInt64(active_trials) != previous_trials + trials_started - trial_conversions - trials_ended
)

select * from final
