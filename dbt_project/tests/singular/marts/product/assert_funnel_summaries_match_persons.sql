-- Every breakdown of fct_funnel_acquisition and fct_funnel_content adds up to the persons
-- tables: entered, reached each step (by furthest step; optional steps when done), in
-- progress. Returns the funnel, breakdown and step where a total differs.
with

acquisition_persons as (
    select
        step_index,
        count() as persons_entered,
        countIf(if(step_index = 3, trial_start_at is not null, furthest_step >= step_index)) as persons,
        countIf(furthest_step = step_index and is_in_progress) as persons_in_progress
    from {{ ref('fct_funnel_acquisition_persons') }}
    array join [1, 2, 3, 4, 5] as step_index
    group by step_index
),

content_persons as (
    select
        step_index,
        count() as persons_entered,
        countIf(furthest_step >= step_index) as persons,
        countIf(furthest_step = step_index and is_in_progress) as persons_in_progress
    from {{ ref('fct_funnel_content_persons') }}
    array join [1, 2, 3] as step_index
    group by step_index
),

summaries as (
    select 'acquisition' as funnel, breakdown, step_index, sum(persons_entered) as persons_entered,
        sum(persons) as persons, sum(persons_in_progress) as persons_in_progress
    from {{ ref('fct_funnel_acquisition') }}
    group by breakdown, step_index
    union all
    select 'content', breakdown, step_index, sum(persons_entered), sum(persons), sum(persons_in_progress)
    from {{ ref('fct_funnel_content') }}
    group by breakdown, step_index
),

expected as (
    select 'acquisition' as funnel, * from acquisition_persons
    union all
    select 'content', * from content_persons
),

final as (
    select
        summaries.funnel as funnel,
        summaries.breakdown as breakdown,
        summaries.step_index as step_index,
        summaries.persons as summary_persons,
        expected.persons as expected_persons
    from summaries
    left join expected on summaries.funnel = expected.funnel and summaries.step_index = expected.step_index
    where summaries.persons_entered != expected.persons_entered
        or summaries.persons != expected.persons
        or summaries.persons_in_progress != expected.persons_in_progress
)

select * from final
