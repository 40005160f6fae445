{#- Planned billing lines with the invoice each became, if any. The canonical plan contract has
    no invoice reference, so a line is matched to an invoice of the same customer and currency
    issued from 7 days before to 21 days after the expected invoice date, at 0.5x to 2x the
    planned amount; cost = |ln(amount ratio)| + |days apart| / 30, and a pair is kept when each
    is the other's cheapest candidate (ties broken by id). On day D a line whose invoice was
    issued by D is already in the open invoices and is not forecast again (DECISIONS F6). -#}

with

plans as (

    select plan_id, customer_id, currency, expected_invoice_date, amount, kind
    from {{ ref('stg_landing__planned_billing') }}
    where amount > 0

),

invoices as (

    select invoice_id, customer_id, currency, invoice_date, amount
    from {{ ref('int_invoices') }}
    where document_type = 'invoice'
        and amount > 0

),

candidates as (

    select
        plans.plan_id,
        invoices.invoice_id,
        invoices.invoice_date,
        abs(ln({{ divide('invoices.amount', 'plans.amount') }}))
            + {{ divide(
                'abs(' ~ dbt.datediff('plans.expected_invoice_date', 'invoices.invoice_date', 'day') ~ ')', 30) }}
            as match_cost
    from plans
    inner join invoices
        on plans.customer_id = invoices.customer_id
        and plans.currency = invoices.currency
        and invoices.invoice_date >= {{ add_days('plans.expected_invoice_date', -7) }}
        and invoices.invoice_date <= {{ add_days('plans.expected_invoice_date', 21) }}
        and invoices.amount >= plans.amount * 0.5
        and invoices.amount <= plans.amount * 2

),

ranked as (

    select
        *,
        row_number() over (partition by plan_id order by match_cost, invoice_id) as plan_rank,
        row_number() over (partition by invoice_id order by match_cost, plan_id) as invoice_rank
    from candidates

),

matches as (

    select plan_id, invoice_id, invoice_date
    from ranked
    where plan_rank = 1
        and invoice_rank = 1

),

final as (

    select
        plans.plan_id,
        plans.customer_id,
        plans.currency,
        plans.expected_invoice_date,
        {{ to_money('plans.amount') }} as amount,
        plans.kind,
        matches.invoice_id,
        matches.invoice_date
    from plans
    left join matches
        on plans.plan_id = matches.plan_id

)

select * from final
