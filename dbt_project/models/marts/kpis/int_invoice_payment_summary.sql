{{ config(schema='intermediate') }}

{#- Per invoice, how it was paid up to as_of: number of payments, first and last payment day,
    credit memo count, and whether any payment left a balance open (a partial payment,
    DECISIONS.md P3). Same-day events are netted before the running balance is taken, so the
    order of events within a day does not matter. -#}
{%- set as_of = date_literal(var('as_of_date')) -%}

with

events as (

    select invoice_id, event_date, event_type, source_id, amount_signed
    from {{ ref('int_invoice_events') }}

),

daily as (

    select
        invoice_id,
        event_date,
        sum(amount_signed) as balance_change,
        sum(case when event_type = 'payment' then 1 else 0 end) as payment_events
    from events
    group by 1, 2

),

running as (

    select
        daily.*,
        sum(balance_change) over (
            partition by invoice_id
            order by event_date
            rows between unbounded preceding and current row
        ) as balance_after
    from daily

),

partial_payments as (

    select
        invoice_id,
        max(case when payment_events > 0 and balance_after > 0 then 1 else 0 end)
            as has_partial_payment
    from running
    group by 1

),

counts as (

    select
        invoice_id,
        count(distinct case when event_type = 'payment' then source_id end) as payment_count,
        min(case when event_type = 'payment' then event_date end) as first_payment_date,
        max(case when event_type = 'payment' then event_date end) as last_payment_date,
        count(distinct case when event_type = 'credit_memo' then source_id end) as credit_memo_count,
        max(case when event_type = 'write_off' then event_date end) as last_write_off_date
    from events
    group by 1

),

final as (

    select
        counts.invoice_id,
        counts.payment_count,
        counts.first_payment_date,
        counts.last_payment_date,
        counts.credit_memo_count,
        counts.last_write_off_date,
        partial_payments.has_partial_payment = 1 as has_partial_payment
    from counts
    inner join partial_payments
        on counts.invoice_id = partial_payments.invoice_id

)

select * from final
