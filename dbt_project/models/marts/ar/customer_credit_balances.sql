{#- What each customer holds as credit as of as_of_date, per currency, so it is never hidden
    inside invoice balances: unapplied cash (payments received not yet applied), unapplied
    credit memos, and over-applications (amounts applied to an invoice beyond its balance).
    All positive = owed to / held for the customer. credit_balance_reporting is at the
    as_of-date rate. Cash whose customer is unknown is one row with a null customer_id. -#}
{%- set as_of = as_of_date() -%}

with

credits as (

    select
        customer_id,
        currency,
        unapplied_amount as unapplied_cash_amount,
        0 as unapplied_credit_memo_amount,
        0 as overapplied_invoice_amount
    from {{ ref('fct_payments') }}
    where unapplied_amount <> 0

    union all

    select
        customer_id,
        currency,
        0 as unapplied_cash_amount,
        unapplied_amount as unapplied_credit_memo_amount,
        0 as overapplied_invoice_amount
    from {{ ref('int_credit_memos') }}
    where unapplied_amount <> 0

    union all

    select
        invoices.customer_id,
        invoices.currency,
        0 as unapplied_cash_amount,
        0 as unapplied_credit_memo_amount,
        -changes.balance_after as overapplied_invoice_amount
    from {{ ref('int_invoice_balance_changes') }} as changes
    inner join {{ ref('int_invoices') }} as invoices
        on changes.invoice_id = invoices.invoice_id
    where changes.next_change_date is null
        and changes.balance_after < 0

),

combined as (

    select
        customer_id,
        currency,
        sum(unapplied_cash_amount) as unapplied_cash_amount,
        sum(unapplied_credit_memo_amount) as unapplied_credit_memo_amount,
        sum(overapplied_invoice_amount) as overapplied_invoice_amount
    from credits
    group by customer_id, currency

),

final as (

    select
        combined.customer_id,
        combined.currency,
        {{ to_money('unapplied_cash_amount') }} as unapplied_cash_amount,
        {{ to_money('unapplied_credit_memo_amount') }} as unapplied_credit_memo_amount,
        {{ to_money('overapplied_invoice_amount') }} as overapplied_invoice_amount,
        {{ to_money('unapplied_cash_amount + unapplied_credit_memo_amount + overapplied_invoice_amount') }} as credit_balance,
        rates.rate_to_reporting as fx_rate_as_of,
        {{ to_reporting('unapplied_cash_amount + unapplied_credit_memo_amount + overapplied_invoice_amount', 'rates.rate_to_reporting') }} as credit_balance_reporting,
        {{ as_of }} as as_of_date
    from combined
    left join {{ ref('int_fx_rates_daily') }} as rates
        on combined.currency = rates.currency
        and rates.rate_date = {{ as_of }}
)

select * from final
