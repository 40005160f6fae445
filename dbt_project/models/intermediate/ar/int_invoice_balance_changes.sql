{#- An invoice's open balance as a step function of time: one row per invoice and day on which
    its balance changed (events netted per day), with the balance after that day's events and
    the next day it changes (null: unchanged through as_of_date). The balance on any day D is
    balance_after of the last row with change_date <= D. closes_invoice marks the day the balance
    reached zero or below from above (or the issue day of a zero invoice); the last such day of an
    invoice that is still closed is its closed_date. A negative balance is an over-application:
    fct_ar_invoices shows the invoice closed and customer_credit_balances keeps the excess as
    the customer's credit. -#}

with

events as (

    select * from {{ ref('int_invoice_events') }}

),

daily as (

    select
        invoice_id,
        event_date as change_date,
        sum(amount_signed) as change_amount
    from events
    group by invoice_id, event_date

),

running as (

    select
        invoice_id,
        change_date,
        change_amount,
        sum(change_amount) over (
            partition by invoice_id order by change_date
            rows between unbounded preceding and current row
        ) as balance_after,
        lead(change_date) over (partition by invoice_id order by change_date) as next_change_date,
        row_number() over (partition by invoice_id order by change_date) = 1 as is_first_change
    from daily

),

final as (

    select
        invoice_id,
        change_date,
        next_change_date,
        {{ to_money('change_amount') }} as change_amount,
        {{ to_money('balance_after') }} as balance_after,
        balance_after <= 0 and (is_first_change or balance_after - change_amount > 0) as closes_invoice
    from running

)

select * from final
