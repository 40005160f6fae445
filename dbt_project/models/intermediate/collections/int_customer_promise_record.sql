{#- One row per customer with a promise recorded by as_of: how it keeps its promises as of that day
    (DECISIONS.md P5). Counts per outcome of int_promise_outcomes; kept_rate = kept / judged
    (judged = kept + partially kept + broken: pending and cancelled promises say nothing yet);
    paid_share_judged = the mean share of the promised amount paid over judged promises (a partly
    kept promise counts its share, a workflow-kept one 1), currency-free. Both null with nothing
    judged. Payment behaviour publishes them; the risk features and the cash forecast count the
    same is_judged / is_kept flags at each of their own scoring days, never this as_of figure. -#}

with

outcomes as (

    select * from {{ ref('int_promise_outcomes') }}

),

counted as (

    select
        customer_id,
        count(*) as promise_count,
        cast(sum(case when outcome = 'pending' then 1 else 0 end) as bigint) as pending_count,
        cast(sum(case when outcome = 'cancelled' then 1 else 0 end) as bigint) as cancelled_count,
        cast(sum(case when outcome = 'kept' then 1 else 0 end) as bigint) as kept_count,
        cast(sum(case when outcome = 'partially_kept' then 1 else 0 end) as bigint) as partially_kept_count,
        cast(sum(case when outcome = 'broken' then 1 else 0 end) as bigint) as broken_count,
        cast(sum(case when is_judged then 1 else 0 end) as bigint) as judged_count,
        {{ mean('case when is_judged then (case when is_kept then 1 else paid_share end) end') }} as paid_share_raw,
        max(case when is_judged then evaluation_date end) as last_judged_evaluation_date
    from outcomes
    group by 1

),

final as (

    select
        customer_id,
        promise_count,
        pending_count,
        cancelled_count,
        kept_count,
        partially_kept_count,
        broken_count,
        judged_count,
        {{ decimal_from_double(divide('kept_count', 'nullif(judged_count, 0)'), 9, 4) }} as kept_rate,
        {{ decimal_from_double('paid_share_raw', 9, 4) }} as paid_share_judged,
        last_judged_evaluation_date
    from counted

)

select * from final
