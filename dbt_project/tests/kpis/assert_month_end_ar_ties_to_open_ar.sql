-- D3: the balance history rebuilt from events gives, on as_of_date, exactly each invoice's open
-- amount and aging bucket in fct_ar_invoices (so every historical month end uses the same rule).
with

history as (

    select invoice_id, open_amount, open_amount_reporting, aging_bucket
    from {{ ref('int_invoice_month_end_buckets') }}
    where period_end_date = {{ as_of_date() }}
),

facts as (

    select invoice_id, open_amount, open_amount_reporting, aging_bucket
    from {{ ref('fct_ar_invoices') }}
    where aging_bucket <> 'closed'

),

final as (

    select
        coalesce(history.invoice_id, facts.invoice_id) as invoice_id,
        history.open_amount as history_open_amount,
        facts.open_amount as fact_open_amount,
        history.aging_bucket as history_bucket,
        facts.aging_bucket as fact_bucket
    from history
    full outer join facts
        on history.invoice_id = facts.invoice_id
    where history.invoice_id is null
        or facts.invoice_id is null
        or history.open_amount <> facts.open_amount
        or history.open_amount_reporting <> facts.open_amount_reporting
        or history.aging_bucket <> facts.aging_bucket

)

select * from final
