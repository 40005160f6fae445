{#- Promises to pay with the dates the forecast reads them by: a promise exists from
    created_date; it is pending on day D while D <= evaluation_date (the promised date plus the
    grace period of int_promise_outcomes); its outcome counts toward the customer's kept rate
    from the day after evaluation_date. The outcome is int_promise_outcomes' verdict as of
    as_of_date (DECISIONS P5), and is_judged / is_kept say how it counts in a kept rate (its one
    definition; the forecast shrinks the rate per origin itself); cancelled promises are left out (the source gives no date for a
    cancellation, so no earlier day could have known it). -#}

with

outcomes as (

    select * from {{ ref('int_promise_outcomes') }}
    where outcome <> 'cancelled'

),

final as (

    select
        promise_id,
        customer_id,
        document_id,
        created_date,
        promised_date,
        evaluation_date,
        {{ to_money('promised_amount') }} as promised_amount,
        outcome,
        is_judged,
        is_kept
    from outcomes

)

select * from final
