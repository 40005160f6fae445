{#- Every promise to pay recorded by as_of with its outcome as of that day (DECISIONS.md P5), the
    one definition every model reads (payment behaviour, the customer kept rate, risk features,
    the cash forecast, the outbox):
    - 'cancelled' when the workflow withdrew it;
    - 'kept' once the promised amount is paid;
    - 'pending' until the evaluation date (promised date + promise_grace_days) has passed;
    - then 'kept' if the workflow marked it kept (its status has no date, so it is only believed
      once the promise is due: a rebuild of an earlier day must not see a later verdict);
    - 'partially_kept' when some but less than the promised amount was paid by the evaluation date;
    - 'broken' when nothing was.
    Payment toward a promise on a document = cash applied to it; toward a customer-level promise =
    cash received from the customer; both counted from the day the promise was made through the
    evaluation date, and never after as_of. is_judged / is_kept say how the outcome counts in a kept
    rate (judged = kept, partially kept or broken). -#}
{%- set as_of = as_of_date() -%}
{%- set grace_days = var('promise_grace_days') -%}
{%- if grace_days is not number or grace_days is sameas true or grace_days is sameas false
    or grace_days != grace_days | int or grace_days < 0 -%}
    {{ exceptions.raise_compiler_error(
        "inflow: var promise_grace_days must be a whole number >= 0, got '" ~ grace_days ~ "'") }}
{%- endif %}

with

promises as (

    select
        promise_id,
        customer_id,
        document_id,
        promised_date,
        promised_amount,
        cast(created_at as date) as created_date,
        status,
        {{ add_days('promised_date', grace_days) }} as evaluation_date
    from {{ ref('stg_landing__promises') }}
    where cast(created_at as date) <= {{ as_of }}
),

document_payments as (

    select
        promises.promise_id,
        -sum(events.amount_signed) as paid_amount
    from promises
    inner join {{ ref('int_invoice_events') }} as events
        on promises.document_id = events.invoice_id
        and events.event_type = 'payment'
        and promises.created_date <= events.event_date
        and promises.evaluation_date >= events.event_date
    where promises.document_id is not null
    group by 1

),

customer_payments as (

    select
        promises.promise_id,
        sum(payments.amount) as paid_amount
    from promises
    inner join {{ ref('fct_payments') }} as payments
        on promises.customer_id = payments.customer_id
        and promises.created_date <= payments.payment_date
        and promises.evaluation_date >= payments.payment_date
    where promises.document_id is null
    group by 1

),

paid as (

    select
        promises.*,
        coalesce(document_payments.paid_amount, customer_payments.paid_amount, 0)
            as paid_toward_promise
    from promises
    left join document_payments
        on promises.promise_id = document_payments.promise_id
    left join customer_payments
        on promises.promise_id = customer_payments.promise_id

),

judged as (

    select
        paid.*,
        case
            when status in ('cancelled', 'canceled', 'withdrawn') then 'cancelled'
            when paid_toward_promise >= promised_amount then 'kept'
            when evaluation_date >= {{ as_of }} then 'pending'
            when status = 'kept' then 'kept'
            when paid_toward_promise > 0 then 'partially_kept'
            else 'broken'
        end as outcome
    from paid

),

final as (

    select
        promise_id,
        customer_id,
        document_id,
        created_date,
        promised_date,
        evaluation_date,
        promised_amount,
        {{ to_money('paid_toward_promise') }} as paid_toward_promise,
        {{ decimal_from_double(
            'case when promised_amount <= 0 then null when paid_toward_promise >= promised_amount then 1 else '
            ~ divide('paid_toward_promise', 'promised_amount') ~ ' end', 9, 4) }} as paid_share,
        status as source_status,
        outcome,
        outcome in ('kept', 'partially_kept', 'broken') as is_judged,
        outcome = 'kept' as is_kept
    from judged

)

select * from final
