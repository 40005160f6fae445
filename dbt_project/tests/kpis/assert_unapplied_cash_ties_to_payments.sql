-- D5: the unapplied cash of the as_of period equals fct_payments' unapplied amounts valued at the
-- as_of rate (the history of applications and the payment fact agree).
with

kpi as (

    select sum(unapplied_cash_reporting) as unapplied_cash_reporting
    from {{ ref('ar_kpis_monthly') }}
    where dimension_type = 'total'
        and period_end_date = {{ date_literal(var('as_of_date')) }}

),

payments as (

    select sum({{ to_reporting('payments.unapplied_amount', 'fx.rate_to_reporting') }})
        as unapplied_cash_reporting
    from {{ ref('fct_payments') }} as payments
    left join {{ ref('int_fx_rates_daily') }} as fx
        on payments.currency = fx.currency
        and fx.rate_date = {{ date_literal(var('as_of_date')) }}
    where payments.payment_date <= {{ date_literal(var('as_of_date')) }}

),

final as (

    select kpi.unapplied_cash_reporting as kpi_unapplied, payments.unapplied_cash_reporting
    from kpi
    cross join payments
    where abs(coalesce(kpi.unapplied_cash_reporting, 0)
        - coalesce(payments.unapplied_cash_reporting, 0)) > 0.01

)

select * from final
