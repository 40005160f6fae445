{#- Per payment of a known customer, the ledger's received and applied movements equal
    fct_payments' amount and applied amount: unapplied cash at the as-of date read from the
    ledger is then exactly the marts' unapplied cash. -#}

with

ledger as (

    select
        payment_id,
        sum(case when movement = 'received' then amount else 0 end) as received_amount,
        sum(case when movement = 'applied' then amount else 0 end) as applied_amount
    from {{ ref('int_forecast_cash_ledger') }}
    group by payment_id

)

select
    payments.payment_id,
    payments.amount,
    payments.applied_amount,
    ledger.received_amount,
    ledger.applied_amount as ledger_applied_amount
from {{ ref('fct_payments') }} as payments
left join ledger
    on ledger.payment_id = payments.payment_id
where payments.customer_id is not null
    and (ledger.payment_id is null
        or ledger.received_amount <> payments.amount
        or ledger.applied_amount <> payments.applied_amount)
