{#- Applications dated on or before as_of_date, each classified: applied_from is 'credit_memo'
    when its payment_id is the document_id of a credit memo, else 'payment'; the document it is
    applied to is described by its type and customer (null when the document is unknown).
    The one place applications are classified, so payments, credit memos and invoice events
    agree. -#}
{%- set as_of = as_of_date() -%}

with

applications as (

    select * from {{ ref('stg_landing__payment_applications') }}
    where applied_date <= {{ as_of }}
),

documents as (

    select document_id, document_type, customer_id
    from {{ ref('stg_landing__invoices') }}

),

final as (

    select
        applications.payment_id,
        applications.document_id,
        applications.applied_date,
        applications.applied_amount,
        case when credit_memos.document_id is not null then 'credit_memo' else 'payment' end as applied_from,
        applied_to.document_type as applied_to_document_type,
        applied_to.customer_id as applied_to_customer_id
    from applications
    left join documents as credit_memos
        on applications.payment_id = credit_memos.document_id
        and credit_memos.document_type = 'credit_memo'
    left join documents as applied_to
        on applications.document_id = applied_to.document_id

)

select * from final
