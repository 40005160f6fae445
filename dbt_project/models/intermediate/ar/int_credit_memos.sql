{#- Credit memos issued on or before as_of_date with how much of each has been applied to
    documents on or before as_of_date. credit_amount is the memo's value as a positive number
    (memos land with a negative amount); unapplied_amount is what the customer still holds as
    credit, kept in customer_credit_balances rather than netted into any invoice. -#}
{%- set as_of = as_of_date() -%}

with

credit_memos as (

    select * from {{ ref('stg_landing__invoices') }}
    where document_type = 'credit_memo'
        and document_date <= {{ as_of }}
),

applied as (

    select
        payment_id as credit_memo_id,
        sum(applied_amount) as applied_amount
    from {{ ref('int_payment_applications') }}
    where applied_from = 'credit_memo'
    group by payment_id

),

final as (

    select
        credit_memos.document_id as credit_memo_id,
        credit_memos.customer_id,
        credit_memos.currency,
        credit_memos.document_date as credit_memo_date,
        {{ to_money('-credit_memos.amount') }} as credit_amount,
        {{ to_money('coalesce(applied.applied_amount, 0)') }} as applied_amount,
        {{ to_money('-credit_memos.amount - coalesce(applied.applied_amount, 0)') }} as unapplied_amount
    from credit_memos
    left join applied
        on credit_memos.document_id = applied.credit_memo_id

)

select * from final
