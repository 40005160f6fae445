{{ config(schema='intermediate') }}

{#- Every promise to pay recorded by as_of with its outcome as of that day (DECISIONS.md P5):
    'kept' once the promised amount is paid; 'pending' until the promised date plus a grace period
    has passed; after that 'broken' unless the workflow marked it kept. The workflow's status has
    no date, so it is only believed once the promise is due (a rebuild of an earlier day must not
    see a later verdict); 'cancelled' when withdrawn. Payment toward a promise on a document =
    cash applied to it; toward a customer-level promise = cash received from the customer, both
    from the day the promise was made. -#}
{%- set as_of = date_literal(var('as_of_date')) -%}
{%- set grace_days = var('promise_grace_days', 3) -%}

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
        cast({{ dbt.dateadd('day', grace_days, 'promised_date') }} as date) as evaluation_date
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
        and events.event_date >= promises.created_date
        and events.event_date <= promises.evaluation_date
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
        and payments.payment_date >= promises.created_date
        and payments.payment_date <= promises.evaluation_date
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
        status as source_status,
        case
            when status in ('cancelled', 'canceled', 'withdrawn') then 'cancelled'
            when paid_toward_promise >= promised_amount then 'kept'
            when evaluation_date >= {{ as_of }} then 'pending'
            when status = 'kept' then 'kept'
            else 'broken'
        end as outcome
    from paid

)

select * from final
