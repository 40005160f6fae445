{#- Every reduction of an invoice's balance dated on or before as_of_date, with two dates:
    known_date, the day the ERP recorded it (the application, credit or write-off date of
    int_invoice_events), and effective_date, the day it happened to the cash: for a payment the
    day the cash was received (the payment's payment_date, never after its application), else
    the known date. The forecast's timing model learns from effective dates of events known by
    its origin; actual receipts are payment events by effective date (DECISIONS F3). -#}

with

events as (

    select * from {{ ref('int_invoice_events') }}
    where event_type <> 'issued'

),

payments as (

    select payment_id, payment_date from {{ ref('fct_payments') }}

),

final as (

    select
        events.invoice_id,
        events.event_type,
        events.source_id,
        events.event_date as known_date,
        case
            when events.event_type = 'payment'
                and payments.payment_date is not null
                and payments.payment_date < events.event_date
                then payments.payment_date
            else events.event_date
        end as effective_date,
        {{ to_money('-events.amount_signed') }} as amount
    from events
    left join payments
        on events.event_type = 'payment'
        and events.source_id = payments.payment_id

)

select * from final
