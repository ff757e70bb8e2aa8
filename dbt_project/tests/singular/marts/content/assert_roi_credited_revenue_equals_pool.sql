-- The revenue credited across titles, (unattributed) included, equals to the kopeck the net
-- money of int_events in the analysed range. Returns a row when it does not.
with

credited as (
    select
        sum(credited_revenue) as credited_revenue,
        any(analysed_start_date) as start_date,
        any(analysed_end_date) as end_date
    from {{ ref('fct_content_roi') }}
),

pool as (
    select sum(value) as pool_revenue
    from {{ ref('int_events') }}
    where event_date between (select start_date from credited) and (select end_date from credited)
)

select
    credited.credited_revenue as credited_revenue,
    pool.pool_revenue as pool_revenue
from credited
cross join pool
where credited.credited_revenue != pool.pool_revenue
