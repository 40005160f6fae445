{#- The cash side of each customer's account, as dated movements: 'received' (a payment, on its
    payment date) and 'applied' (cash of that payment applied to any document, on the
    application date). Cash received by day D and not applied by D is unapplied on D: it has
    arrived already, so the forecast never counts it again and offsets it against the
    customer's open invoices (DECISIONS F4). Payments without a known customer are left out:
    they cannot be offset against anyone's invoices. -#}

with

payments as (

    select payment_id, customer_id, currency, payment_date, amount
    from {{ ref('fct_payments') }}
    where customer_id is not null

),

applications as (

    select payment_id, applied_date, sum(applied_amount) as applied_amount
    from {{ ref('int_payment_applications') }}
    where applied_from = 'payment'
    group by payment_id, applied_date

),

received as (

    select
        payment_id,
        customer_id,
        currency,
        'received' as movement,
        payment_date as movement_date,
        payment_date,
        amount
    from payments

),

applied as (

    select
        payments.payment_id,
        payments.customer_id,
        payments.currency,
        'applied' as movement,
        applications.applied_date as movement_date,
        payments.payment_date,
        applications.applied_amount as amount
    from applications
    inner join payments
        on applications.payment_id = payments.payment_id

),

unioned as (

    select * from received
    union all
    select * from applied

),

final as (

    select
        payment_id,
        customer_id,
        currency,
        movement,
        movement_date,
        payment_date,
        {{ to_money('amount') }} as amount
    from unioned

)

select * from final
