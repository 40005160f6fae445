{#- The aging history's snapshot for as_of_date equals the invoice fact, per customer, currency
    and bucket: same open amount and same number of open invoices. The two are computed by
    different paths (segment deltas vs. per-invoice sums), so a tie proves both. Returns the
    mismatching cells. -#}
{%- set as_of = as_of_date() -%}

with

aging as (

    select customer_id, currency, aging_bucket, open_amount, invoice_count
    from {{ ref('fct_ar_aging_daily') }}
    where snapshot_date = {{ as_of }}
),

invoices as (

    select
        customer_id,
        currency,
        aging_bucket,
        sum(open_amount) as open_amount,
        count(*) as invoice_count
    from {{ ref('fct_ar_invoices') }}
    where open_amount > 0
    group by customer_id, currency, aging_bucket

),

final as (

    select
        coalesce(aging.customer_id, invoices.customer_id) as customer_id,
        coalesce(aging.currency, invoices.currency) as currency,
        coalesce(aging.aging_bucket, invoices.aging_bucket) as aging_bucket,
        aging.open_amount as aging_open_amount,
        invoices.open_amount as invoice_open_amount,
        aging.invoice_count as aging_invoice_count,
        invoices.invoice_count as invoice_invoice_count
    from aging
    full outer join invoices
        on aging.customer_id = invoices.customer_id
        and aging.currency = invoices.currency
        and aging.aging_bucket = invoices.aging_bucket
    where coalesce(aging.open_amount, 0) <> coalesce(invoices.open_amount, 0)
        or coalesce(aging.invoice_count, 0) <> coalesce(invoices.invoice_count, 0)

)

select * from final
