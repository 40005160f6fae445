{#- Invoices and debit memos issued on or before as_of_date: the documents that carry an open
    receivable balance (credit memos are credits, see int_credit_memos). A document without a
    due date is due missing_due_date_terms_days after its invoice date; due_date then holds that
    imputed day and due_date_is_imputed says so. A view: a filtered projection of staging is
    cheaper to recompute for its few readers than to copy (a million-row write at scale). -#}
{{ config(materialized='view') }}
{%- set as_of = as_of_date() -%}

with

documents as (

    select * from {{ ref('stg_landing__invoices') }}
    where document_type in ('invoice', 'debit_memo')
        and document_date <= {{ as_of }}
),

final as (

    select
        document_id as invoice_id,
        customer_id,
        document_type,
        currency,
        document_date as invoice_date,
        coalesce(
            due_date,
            {{ add_days('document_date', var('missing_due_date_terms_days') | int) }}
        ) as due_date,
        due_date is null as due_date_is_imputed,
        amount,
        tax_amount,
        status,
        po_number,
        external_open_amount,
        _loaded_at
    from documents

)

select * from final
