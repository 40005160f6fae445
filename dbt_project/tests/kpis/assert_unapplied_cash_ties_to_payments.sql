-- D5: the unapplied cash of the as_of period equals fct_payments' unapplied amounts, valued at the
-- as_of rate per customer and currency (the rounding grain of the KPI series), to the cent.
{%- set as_of = as_of_date() %}

with

kpi as (

    select sum(unapplied_cash_reporting) as unapplied_cash_reporting
    from {{ ref('ar_kpis_monthly') }}
    where dimension_type = 'total'
        and period_end_date = {{ as_of }}
),

balances as (

    select customer_id, currency, sum(unapplied_amount) as unapplied_amount
    from {{ ref('fct_payments') }}
    group by 1, 2

),

payments as (

    select sum({{ to_reporting('balances.unapplied_amount', 'fx.rate_to_reporting') }})
        as unapplied_cash_reporting
    from balances
    left join {{ ref('int_fx_rates_daily') }} as fx
        on balances.currency = fx.currency
        and fx.rate_date = {{ as_of }}
),

final as (

    select kpi.unapplied_cash_reporting as kpi_unapplied, payments.unapplied_cash_reporting
    from kpi
    cross join payments
    where coalesce(kpi.unapplied_cash_reporting, 0) <> coalesce(payments.unapplied_cash_reporting, 0)

)

select * from final
