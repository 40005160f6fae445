{#- One row per payment received on or before as_of_date, with how much of it had been applied
    to documents on or before as_of_date (any document, also one that is not in fct_ar_invoices
    such as a quarantined invoice: the ERP has applied that cash, it is not the customer's
    credit); the rest is unapplied cash, kept per customer as a credit in
    customer_credit_balances. A payment exported without a customer takes the
    customer of the documents it was applied to (customer_id_is_inferred); cash with neither
    stays unidentified (null customer). FX: amount_reporting at the payment-date rate. -#}
{%- set as_of = as_of_date() -%}

with

payments as (

    select * from {{ ref('stg_landing__payments') }}
    where payment_date <= {{ as_of }}
),

applied as (

    select
        payment_id,
        sum(applied_amount) as applied_amount,
        min(applied_to_customer_id) as applied_to_customer_id
    from {{ ref('int_payment_applications') }}
    where applied_from = 'payment'
    group by payment_id

),

rates as (

    select * from {{ ref('int_fx_rates_daily') }}

),

final as (

    select
        payments.payment_id,
        coalesce(payments.customer_id, applied.applied_to_customer_id) as customer_id,
        payments.customer_id is null and applied.applied_to_customer_id is not null as customer_id_is_inferred,
        payments.payment_date,
        payments.currency,
        {{ to_money('payments.amount') }} as amount,
        payment_rates.rate_to_reporting as fx_rate_payment_date,
        {{ to_reporting('payments.amount', 'payment_rates.rate_to_reporting') }} as amount_reporting,
        {{ to_money('coalesce(applied.applied_amount, 0)') }} as applied_amount,
        {{ to_money('payments.amount - coalesce(applied.applied_amount, 0)') }} as unapplied_amount,
        payments.method,
        payments.reference,
        {{ as_of }} as as_of_date
    from payments
    left join applied
        on payments.payment_id = applied.payment_id
    left join rates as payment_rates
        on payments.currency = payment_rates.currency
        and payments.payment_date = payment_rates.rate_date

)

select * from final
