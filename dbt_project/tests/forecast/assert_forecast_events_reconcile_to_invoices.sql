{#- The forecast's event log carries exactly the paid, credited and written-off amounts of
    fct_ar_invoices, invoice by invoice: the backtest reconstructs balances at past origins from
    these events, so an event lost or doubled here would move every reconstructed balance. -#}

with

events as (

    select
        invoice_id,
        sum(case when event_type = 'payment' then amount else 0 end) as paid_amount,
        sum(case when event_type = 'credit_memo' then amount else 0 end) as credited_amount,
        sum(case when event_type = 'write_off' then amount else 0 end) as written_off_amount
    from {{ ref('int_forecast_invoice_events') }}
    group by invoice_id

),

compared as (

    select
        invoices.invoice_id,
        invoices.paid_amount,
        invoices.credited_amount,
        invoices.written_off_amount,
        coalesce(events.paid_amount, 0) as event_paid_amount,
        coalesce(events.credited_amount, 0) as event_credited_amount,
        coalesce(events.written_off_amount, 0) as event_written_off_amount
    from {{ ref('fct_ar_invoices') }} as invoices
    left join events
        on events.invoice_id = invoices.invoice_id

)

select * from compared
where paid_amount <> event_paid_amount
    or credited_amount <> event_credited_amount
    or written_off_amount <> event_written_off_amount
