{#- Roll-forward of the whole ledger, per currency, straight from staging (independently of the
    intermediate models): invoices and debit memos issued on or before as_of_date - payment
    applications - credit memo applications - write-offs dated on or before it (on those
    documents) = sum of open_amount in fct_ar_invoices - over-applications kept as customer
    credit. Returns the currencies that do not reconcile, with each term. -#}
{%- set as_of = as_of_date() -%}

with

documents as (

    select document_id, document_type, currency, amount, document_date
    from {{ ref('stg_landing__invoices') }}

),

receivables as (

    select document_id, currency, amount, document_date
    from documents
    where document_type in ('invoice', 'debit_memo')
        and document_date <= {{ as_of }}
),

invoiced as (

    select currency, sum(amount) as invoiced
    from receivables
    group by currency

),

applied as (

    select
        receivables.currency,
        sum(case when credit_memos.document_id is null then applications.applied_amount else 0 end) as payments_applied,
        sum(case when credit_memos.document_id is not null then applications.applied_amount else 0 end) as credits_applied
    from {{ ref('stg_landing__payment_applications') }} as applications
    inner join receivables
        on applications.document_id = receivables.document_id
    left join documents as credit_memos
        on applications.payment_id = credit_memos.document_id
        and credit_memos.document_type = 'credit_memo'
    where applications.applied_date <= {{ as_of }}
    group by receivables.currency

),

written_off as (

    select receivables.currency, sum(write_offs.amount) as written_off
    from {{ ref('stg_landing__write_offs') }} as write_offs
    inner join receivables
        on write_offs.document_id = receivables.document_id
    where write_offs.write_off_date <= {{ as_of }}
    group by receivables.currency

),

open_ar as (

    select currency, sum(open_amount) as open_amount
    from {{ ref('fct_ar_invoices') }}
    group by currency

),

overapplied as (

    select currency, sum(overapplied_invoice_amount) as overapplied
    from {{ ref('customer_credit_balances') }}
    group by currency

),

final as (

    select
        invoiced.currency,
        invoiced.invoiced,
        coalesce(applied.payments_applied, 0) as payments_applied,
        coalesce(applied.credits_applied, 0) as credits_applied,
        coalesce(written_off.written_off, 0) as written_off,
        coalesce(open_ar.open_amount, 0) as open_amount,
        coalesce(overapplied.overapplied, 0) as overapplied
    from invoiced
    left join applied on invoiced.currency = applied.currency
    left join written_off on invoiced.currency = written_off.currency
    left join open_ar on invoiced.currency = open_ar.currency
    left join overapplied on invoiced.currency = overapplied.currency
    where invoiced.invoiced
        - coalesce(applied.payments_applied, 0)
        - coalesce(applied.credits_applied, 0)
        - coalesce(written_off.written_off, 0)
        <> coalesce(open_ar.open_amount, 0) - coalesce(overapplied.overapplied, 0)

)

select * from final
