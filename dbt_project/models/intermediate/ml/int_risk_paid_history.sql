{{ config(materialized='view') }}
{%- set last_5 = 'partition by customer_id order by paid_date, invoice_id rows between 4 preceding and current row' -%}

{#- Each customer's paid invoices (closed_as_paid in int_risk_invoice_outcomes) in the order they
    were settled, numbered 1, 2, ... (paid_sequence), with the recent-history statistics known
    on the day each one closed: mean days beyond terms of the last 5 paid invoices, their
    median over the last 10, and the mean signed days late (negative = early) of the last 5. A feature row as of day D reads the row whose paid_sequence is the
    number of the customer's invoices paid on or before D (int_risk_customer_state), so these
    windows never reach past D. -#}

with

paid as (

    select
        customer_id,
        invoice_id,
        first_closed_date as paid_date,
        days_late_at_close as days_late,
        case when days_late_at_close > 0 then days_late_at_close else 0 end as days_beyond_terms
    from {{ ref('int_risk_invoice_outcomes') }}
    where closed_as_paid

),

final as (

    select
        customer_id,
        invoice_id,
        paid_date,
        days_beyond_terms,
        row_number() over (partition by customer_id order by paid_date, invoice_id) as paid_sequence,
        {{ mean('days_beyond_terms', last_5) }} as days_beyond_terms_mean_last_5,
        {{ windowed_median('days_beyond_terms', 'customer_id', 'paid_date, invoice_id', 9) }}
            as days_beyond_terms_median_last_10,
        {{ mean('days_late', last_5) }} as days_late_mean_last_5
    from paid

)

select * from final
