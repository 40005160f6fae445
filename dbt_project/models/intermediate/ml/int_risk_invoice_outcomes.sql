{{ config(materialized='table') }}

{#- How and when each invoice was settled, dated so that features can use an outcome only from
    the day it became known:
    - first_closed_date: the first day its balance reached zero (int_invoice_balance_changes).
      The first, not the last: a later reopening must not move a closure that was already known.
    - closed_as_paid: D4 judged on that day: cash applied and nothing written off on or before it.
    - days_late_at_close: first_closed_date - due_date (negative = early); partial_before_close:
      a payment came before the closing day (P3).
    - written_off_date: the day write-offs reached risk_write_off_min_share (0.5) of the amount.
      A small residue written off after a short payment is not a credit loss and is not counted.
    - last_settlement_date: the last payment or credit memo applied on or before as_of (the day
      the customer settled what it paid of a short-paid invoice). -#}
{%- set write_off_share = var('risk_write_off_min_share') -%}

with

invoices as (

    select invoice_id, customer_id, due_date, amount
    from {{ ref('int_invoices') }}

),

events as (

    select * from {{ ref('int_invoice_events') }}

),

first_closures as (

    select
        invoice_id,
        min(change_date) as first_closed_date
    from {{ ref('int_invoice_balance_changes') }}
    where closes_invoice
    group by invoice_id

),

settled_by_first_close as (

    select
        first_closures.invoice_id,
        first_closures.first_closed_date,
        sum(case when events.event_type = 'payment' then -events.amount_signed else 0 end) as paid_by_close,
        sum(case when events.event_type = 'write_off' then -events.amount_signed else 0 end) as written_off_by_close,
        min(case when events.event_type = 'payment' then events.event_date end) as first_payment_date
    from first_closures
    inner join events
        on first_closures.invoice_id = events.invoice_id
        and first_closures.first_closed_date >= events.event_date
    group by first_closures.invoice_id, first_closures.first_closed_date

),

write_off_running as (

    select
        events.invoice_id,
        events.event_date,
        sum(-events.amount_signed) over (
            partition by events.invoice_id order by events.event_date
            rows between unbounded preceding and current row
        ) as written_off_to_date
    from events
    where events.event_type = 'write_off'

),

written_off as (

    select
        write_off_running.invoice_id,
        min(write_off_running.event_date) as written_off_date
    from write_off_running
    inner join invoices
        on write_off_running.invoice_id = invoices.invoice_id
    where write_off_running.written_off_to_date >= {{ write_off_share }} * invoices.amount
    group by write_off_running.invoice_id

),

last_settlement as (

    select
        invoice_id,
        max(event_date) as last_settlement_date
    from events
    where event_type in ('payment', 'credit_memo')
    group by invoice_id

),

final as (

    select
        invoices.invoice_id,
        invoices.customer_id,
        settled_by_first_close.first_closed_date,
        coalesce(settled_by_first_close.paid_by_close > 0
            and settled_by_first_close.written_off_by_close = 0, false) as closed_as_paid,
        {{ dbt.cast(dbt.datediff('invoices.due_date', 'settled_by_first_close.first_closed_date', 'day'),
                    api.Column.translate_type('integer')) }} as days_late_at_close,
        coalesce(settled_by_first_close.first_payment_date < settled_by_first_close.first_closed_date, false)
            as partial_before_close,
        written_off.written_off_date,
        last_settlement.last_settlement_date
    from invoices
    left join settled_by_first_close
        on invoices.invoice_id = settled_by_first_close.invoice_id
    left join written_off
        on invoices.invoice_id = written_off.invoice_id
    left join last_settlement
        on invoices.invoice_id = last_settlement.invoice_id

)

select * from final
