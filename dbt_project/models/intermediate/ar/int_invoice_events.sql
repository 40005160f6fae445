{#- Every event that changed an invoice's (or debit memo's) open balance on or before
    as_of_date, in transaction currency: 'issued' (+amount), 'payment' and 'credit_memo'
    applications (-applied), 'write_off' (-amount). source_id is the payment id or the credit
    memo's document id (null for issue and write-off). An application or write-off dated before
    its invoice's date takes effect on the invoice date (the balance cannot move before the
    invoice exists). Open balance as of any day D <= as_of_date = sum(amount_signed) of the
    invoice's events with event_date <= D. -#}
{%- set as_of = as_of_date() -%}

with

invoices as (

    select * from {{ ref('int_invoices') }}

),

applications as (

    select * from {{ ref('int_payment_applications') }}

),

write_offs as (

    select * from {{ ref('stg_landing__write_offs') }}
    where write_off_date <= {{ as_of }}
),

issued as (

    select
        invoice_id,
        customer_id,
        currency,
        invoice_date as event_date,
        'issued' as event_type,
        {{ dbt.cast('null', api.Column.translate_type('string')) }} as source_id,
        amount as amount_signed
    from invoices

),

applied as (

    select
        invoices.invoice_id,
        invoices.customer_id,
        invoices.currency,
        case
            when applications.applied_date < invoices.invoice_date then invoices.invoice_date
            else applications.applied_date
        end as event_date,
        applications.applied_from as event_type,
        applications.payment_id as source_id,
        -applications.applied_amount as amount_signed
    from applications
    inner join invoices
        on applications.document_id = invoices.invoice_id

),

written_off as (

    select
        invoices.invoice_id,
        invoices.customer_id,
        invoices.currency,
        case
            when write_offs.write_off_date < invoices.invoice_date then invoices.invoice_date
            else write_offs.write_off_date
        end as event_date,
        'write_off' as event_type,
        {{ dbt.cast('null', api.Column.translate_type('string')) }} as source_id,
        -write_offs.amount as amount_signed
    from write_offs
    inner join invoices
        on write_offs.document_id = invoices.invoice_id

),

unioned as (

    select * from issued
    union all
    select * from applied
    union all
    select * from written_off

),

final as (

    select
        invoice_id,
        customer_id,
        currency,
        event_date,
        event_type,
        source_id,
        {{ to_money('amount_signed') }} as amount_signed
    from unioned

)

select * from final
