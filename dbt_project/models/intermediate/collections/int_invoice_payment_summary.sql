{#- Per invoice with cash or credits applied, how it was paid up to as_of: number of payment and
    credit memo applications, first and last payment day, whether it counts as paid (DECISIONS.md
    D4: closed with cash and nothing written off) and its days beyond terms then, and whether a payment left a balance open (a partial payment,
    DECISIONS.md P3). Balances only fall after issue, so a payment left a balance open exactly
    when the invoice is still open after being paid, or its first payment came before the day it
    closed. -#}

with

events as (

    select
        invoice_id,
        cast(sum(case when event_type = 'payment' then 1 else 0 end) as bigint) as payment_count,
        min(case when event_type = 'payment' then event_date end) as first_payment_date,
        max(case when event_type = 'payment' then event_date end) as last_payment_date,
        cast(sum(case when event_type = 'credit_memo' then 1 else 0 end) as bigint) as credit_memo_count
    from {{ ref('int_invoice_events') }}
    where event_type in ('payment', 'credit_memo')
    group by 1

),

final as (

    select
        events.invoice_id,
        events.payment_count,
        events.first_payment_date,
        events.last_payment_date,
        events.credit_memo_count,
        events.payment_count > 0
            and (invoices.closed_date is null or events.first_payment_date < invoices.closed_date)
            as has_partial_payment,
        invoices.closed_date is not null
            and invoices.paid_amount > 0
            and invoices.written_off_amount = 0 as is_paid,
        -- a day count is BIGINT on every engine (Spark's datediff is an INT, DuckDB's a BIGINT)
        cast(case
            when {{ dbt.datediff('invoices.due_date', 'invoices.closed_date', 'day') }} > 0
                then {{ dbt.datediff('invoices.due_date', 'invoices.closed_date', 'day') }}
            else 0
        end as bigint) as days_beyond_terms
    from events
    inner join {{ ref('fct_ar_invoices') }} as invoices
        on events.invoice_id = invoices.invoice_id

)

select * from final
