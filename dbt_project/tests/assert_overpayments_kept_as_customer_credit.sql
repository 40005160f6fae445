{#- Open balances are never negative beyond 0.01, and whatever was applied to an invoice beyond
    its balance is not lost: per customer and currency, the over-application recomputed from the
    invoice events equals overapplied_invoice_amount in customer_credit_balances. Returns
    negative invoices and mismatching customers. -#}

with

negative_invoices as (

    select
        'negative_open_amount' as failure,
        customer_id,
        currency,
        open_amount as reported,
        {{ to_money('0') }} as expected
    from {{ ref('fct_ar_invoices') }}
    where open_amount < -0.01

),

invoice_balances as (

    select invoice_id, customer_id, currency, sum(amount_signed) as balance
    from {{ ref('int_invoice_events') }}
    group by invoice_id, customer_id, currency

),

expected_credit as (

    select customer_id, currency, sum(-balance) as overapplied
    from invoice_balances
    where balance < 0
    group by customer_id, currency

),

reported_credit as (

    select customer_id, currency, overapplied_invoice_amount as overapplied
    from {{ ref('customer_credit_balances') }}
    where overapplied_invoice_amount <> 0

),

credit_mismatches as (

    select
        'overapplication_not_in_customer_credit' as failure,
        coalesce(expected_credit.customer_id, reported_credit.customer_id) as customer_id,
        coalesce(expected_credit.currency, reported_credit.currency) as currency,
        reported_credit.overapplied as reported,
        expected_credit.overapplied as expected
    from expected_credit
    full outer join reported_credit
        on expected_credit.customer_id = reported_credit.customer_id
        and expected_credit.currency = reported_credit.currency
    where coalesce(expected_credit.overapplied, 0) <> coalesce(reported_credit.overapplied, 0)

),

final as (

    select * from negative_invoices
    union all
    select * from credit_mismatches

)

select * from final
