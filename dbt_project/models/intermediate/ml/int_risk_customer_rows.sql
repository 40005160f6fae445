{{ config(materialized='table') }}

{#- One row per customer with at least one invoice and per state day (as_of_date, and
    as_of_date - risk_customer_trend_days when it had invoices by then): the customer's history
    and exposure as known at the end of that day, described exactly as on the invoice feature
    rows (the same macros; no invoice of its own is counted). models/ scores a customer as the
    risk of its next usual invoice (its usual amount and terms, issued the next day), so a
    customer score and an invoice score are the same model's answer. -#}
{%- set as_of = as_of_date() -%}

with

state as (

    select * from {{ ref('int_risk_customer_state') }}
    where state_date in ({{ as_of }}, {{ add_days(as_of, -(var('risk_customer_trend_days') | int)) }})
        and issued_count > 0

),

customers as (

    select
        customer_id,
        segment,
        region,
        country,
        payment_terms,
        currency as customer_currency,
        credit_limit
    from {{ ref('dim_customers') }}

),

joined as (

    select
        state.*,
        customers.segment,
        customers.region,
        customers.country,
        customers.payment_terms,
        customers.customer_currency,
        customers.credit_limit * limit_rates.rate_to_reporting as credit_limit_reporting
    from state
    left join customers
        on customers.customer_id = state.customer_id
    left join {{ ref('int_fx_rates_daily') }} as limit_rates
        on limit_rates.currency = customers.customer_currency
        and limit_rates.rate_date = state.state_date

),

final as (

    select
        customer_id,
        state_date as scoring_date,
        segment,
        region,
        country,
        payment_terms,
        customer_currency as currency,
        {{ risk_history_features('joined', 'joined.state_date') }},
        {{ risk_exposure_features(
            'joined', own_issued='0', own_amount_reporting='0', own_terms_days='0', own_open_count='0',
            own_open_reporting='0', own_overdue_count='0', own_overdue_reporting='0',
            exposure_reporting='0', credit_limit_reporting='joined.credit_limit_reporting') }},
        {{ as_of }} as as_of_date
    from joined

)

select * from final
