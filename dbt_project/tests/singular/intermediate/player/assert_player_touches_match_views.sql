-- Every view is one play touch in int_events, every valid view one valid_play, every complete
-- view one complete. Returns the kinds whose counts differ.
with

views as (
    select
        count() as plays,
        countIf(is_valid_play) as valid_plays,
        countIf(is_complete) as completes
    from {{ ref('int_player_views') }}
),

touches as (
    select
        countIf(event_type = 'play') as plays,
        countIf(event_type = 'valid_play') as valid_plays,
        countIf(event_type = 'complete') as completes
    from {{ ref('int_events') }}
    where source = 'player'
),

final as (
    select 'play' as kind, views.plays as in_views, touches.plays as in_events from views cross join touches
    union all
    select 'valid_play', views.valid_plays, touches.valid_plays from views cross join touches
    union all
    select 'complete', views.completes, touches.completes from views cross join touches
)

select * from final where in_views != in_events
