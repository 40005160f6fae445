{#- Monthly AR series per dimension (total, segment, collector, customer): the additive inputs
    every KPI of ar_kpis_monthly is computed from. Dense: one row per dimension value and period
    from the dimension's first activity to as_of, zero-filled, so window functions over rows are
    windows over months. Reporting-currency basis (DECISIONS.md D2): balances at the period-end
    rate, flows (sales, collections) at the rate of their own date. -#}
{%- set as_of = as_of_date() -%}
{%- set at_risk_days = var('kpi_at_risk_days') -%}

with

periods as (

    select month_start, month_end, period_end_date, days_in_period
    from {{ ref('int_kpi_month_periods') }}

),

customers as (

    select
        customer_id,
        coalesce(segment, 'unassigned') as segment,
        coalesce(collector, 'unassigned') as collector
    from {{ ref('dim_customers') }}

),

invoices as (

    select
        invoice_id,
        customer_id,
        invoice_date,
        amount,
        amount_reporting,
        fx_rate_invoice_date,
        closed_date,
        days_to_pay,
        cast({{ dbt.date_trunc('month', 'invoice_date') }} as date) as invoice_month_start
    from {{ ref('fct_ar_invoices') }}

),

-- Reductions only (payments, credit memos, write-offs), each valued at its own day's rate.
events as (

    select
        events.invoice_id,
        events.customer_id,
        events.event_date,
        events.event_type,
        events.amount_signed,
        {{ to_reporting('-events.amount_signed', 'fx.rate_to_reporting') }} as reduction_reporting
    from {{ ref('int_invoice_events') }} as events
    left join {{ ref('int_fx_rates_daily') }} as fx
        on events.currency = fx.currency
        and events.event_date = fx.rate_date
    where events.event_type <> 'issued'

),

-- Cash from a payer the ERP could not name stays in the total as customer 'unknown'.
payments as (

    select payment_id, coalesce(customer_id, 'unknown') as customer_id, currency, payment_date, amount
    from {{ ref('fct_payments') }}

),

-- D1/D3: credit sales = invoices and debit memos issued in the period, gross of tax, at the
-- invoice-date rate; credit memos are not netted (they reduce AR when applied).
sales as (

    select
        customer_id,
        invoice_month_start as month_start,
        sum(amount_reporting) as credit_sales_reporting,
        count(*) as invoice_count
    from invoices
    group by 1, 2

),

-- Month-end AR rebuilt from the event history, at the period-end rate (D2).
month_end_ar as (

    select
        customer_id,
        month_start,
        sum(open_amount_reporting) as ar_reporting,
        sum(case when bucket_order = 0 then open_amount_reporting else 0 end)
            as current_ar_reporting,
        sum(case when is_disputed then open_amount_reporting else 0 end)
            as disputed_ar_reporting
    from {{ ref('int_invoice_month_end_buckets') }}
    group by 1, 2

),

-- Reductions of AR during the period by kind, each at its own date's rate.
collections as (

    select
        customer_id,
        cast({{ dbt.date_trunc('month', 'event_date') }} as date) as month_start,
        sum(case when event_type = 'payment' then reduction_reporting else 0 end) as cash_applied_reporting,
        sum(case when event_type = 'credit_memo' then reduction_reporting else 0 end) as credits_applied_reporting,
        sum(case when event_type = 'write_off' then reduction_reporting else 0 end) as written_off_reporting
    from events
    group by 1, 2

),

-- D4: invoices paid (closed with cash, nothing written off), in the month they closed.
paid_invoices as (

    select
        invoices.customer_id,
        cast({{ dbt.date_trunc('month', 'invoices.closed_date') }} as date) as month_start,
        invoices.amount_reporting,
        invoices.days_to_pay,
        payment_summary.days_beyond_terms
    from invoices
    inner join {{ ref('int_invoice_payment_summary') }} as payment_summary
        on invoices.invoice_id = payment_summary.invoice_id
    where payment_summary.is_paid

),

paid_invoice_stats as (

    select
        customer_id,
        month_start,
        count(*) as paid_invoice_count,
        sum(amount_reporting) as paid_invoice_amount_reporting,
        sum(days_to_pay) as days_to_pay_sum,
        sum(days_to_pay * amount_reporting) as days_to_pay_amount_sum,
        sum(days_beyond_terms) as days_beyond_terms_sum,
        sum(days_beyond_terms * amount_reporting) as days_beyond_terms_amount_sum
    from paid_invoices
    group by 1, 2

),

-- D6: what of each invoice was neither paid nor credited N days after its billing month end.
at_risk_horizons as (

    select
        invoice_id,
        customer_id,
        invoice_month_start,
        amount,
        fx_rate_invoice_date,
        cast({{ dbt.dateadd('day', at_risk_days, dbt.last_day('invoice_date', 'month')) }} as date)
            as horizon_date
    from invoices

),

at_risk_resolved as (

    select
        at_risk_horizons.invoice_id,
        -sum(events.amount_signed) as resolved_amount
    from at_risk_horizons
    inner join events
        on at_risk_horizons.invoice_id = events.invoice_id
        and at_risk_horizons.horizon_date >= events.event_date
        and events.event_type in ('payment', 'credit_memo')
    group by 1

),

at_risk as (

    select
        at_risk_horizons.customer_id,
        at_risk_horizons.invoice_month_start as month_start,
        sum(
            case
                when at_risk_horizons.amount - coalesce(at_risk_resolved.resolved_amount, 0) > 0
                    then {{ to_reporting(
                        'at_risk_horizons.amount - coalesce(at_risk_resolved.resolved_amount, 0)',
                        'at_risk_horizons.fx_rate_invoice_date') }}
                else 0
            end
        ) as at_risk_unpaid_reporting
    from at_risk_horizons
    left join at_risk_resolved
        on at_risk_horizons.invoice_id = at_risk_resolved.invoice_id
    where at_risk_horizons.horizon_date <= {{ as_of }}
    group by 1, 2

),

-- D5: unapplied cash per customer and currency, kept as a balance, valued at the period-end rate:
-- payments received less their applications to any document (as fct_payments counts them).
unapplied_changes as (

    select
        customer_id,
        currency,
        cast({{ dbt.date_trunc('month', 'payment_date') }} as date) as month_start,
        amount as change_amount
    from payments

    union all

    select
        payments.customer_id,
        payments.currency,
        cast({{ dbt.date_trunc('month', 'applications.applied_date') }} as date) as month_start,
        -applications.applied_amount as change_amount
    from {{ ref('int_payment_applications') }} as applications
    inner join payments
        on applications.payment_id = payments.payment_id
    where applications.applied_from = 'payment'

),

unapplied_monthly as (

    select customer_id, currency, month_start, sum(change_amount) as change_amount
    from unapplied_changes
    group by 1, 2, 3

),

unapplied_grid as (

    select
        unapplied_starts.customer_id,
        unapplied_starts.currency,
        periods.month_start,
        periods.period_end_date
    from (
        select customer_id, currency, min(month_start) as first_month_start
        from unapplied_monthly
        group by 1, 2
    ) as unapplied_starts
    inner join periods
        on unapplied_starts.first_month_start <= periods.month_start

),

unapplied_balances as (

    select
        unapplied_grid.customer_id,
        unapplied_grid.currency,
        unapplied_grid.month_start,
        unapplied_grid.period_end_date,
        sum(coalesce(unapplied_monthly.change_amount, 0)) over (
            partition by unapplied_grid.customer_id, unapplied_grid.currency
            order by unapplied_grid.month_start
            rows between unbounded preceding and current row
        ) as unapplied_amount
    from unapplied_grid
    left join unapplied_monthly
        on unapplied_grid.customer_id = unapplied_monthly.customer_id
        and unapplied_grid.currency = unapplied_monthly.currency
        and unapplied_grid.month_start = unapplied_monthly.month_start

),

unapplied as (

    select
        unapplied_balances.customer_id,
        unapplied_balances.month_start,
        sum({{ to_reporting('unapplied_balances.unapplied_amount', 'fx.rate_to_reporting') }})
            as unapplied_cash_reporting
    from unapplied_balances
    left join {{ ref('int_fx_rates_daily') }} as fx
        on unapplied_balances.currency = fx.currency
        and unapplied_balances.period_end_date = fx.rate_date
    group by 1, 2

),

customer_first_months as (

    select customer_id, min(month_start) as first_month_start
    from (
        select customer_id, month_start from sales
        union all
        select customer_id, month_start from unapplied_monthly
    ) as activity
    group by 1

),

customer_months as (

    select
        customer_first_months.customer_id,
        periods.month_start,
        coalesce(sales.credit_sales_reporting, 0) as credit_sales_reporting,
        coalesce(sales.invoice_count, 0) as invoice_count,
        coalesce(month_end_ar.ar_reporting, 0) as ar_reporting,
        coalesce(month_end_ar.current_ar_reporting, 0) as current_ar_reporting,
        coalesce(month_end_ar.disputed_ar_reporting, 0) as disputed_ar_reporting,
        coalesce(unapplied.unapplied_cash_reporting, 0) as unapplied_cash_reporting,
        coalesce(collections.cash_applied_reporting, 0) as cash_applied_reporting,
        coalesce(collections.credits_applied_reporting, 0) as credits_applied_reporting,
        coalesce(collections.written_off_reporting, 0) as written_off_reporting,
        coalesce(paid_invoice_stats.paid_invoice_count, 0) as paid_invoice_count,
        coalesce(paid_invoice_stats.paid_invoice_amount_reporting, 0)
            as paid_invoice_amount_reporting,
        coalesce(paid_invoice_stats.days_to_pay_sum, 0) as days_to_pay_sum,
        coalesce(paid_invoice_stats.days_to_pay_amount_sum, 0) as days_to_pay_amount_sum,
        coalesce(paid_invoice_stats.days_beyond_terms_sum, 0) as days_beyond_terms_sum,
        coalesce(paid_invoice_stats.days_beyond_terms_amount_sum, 0)
            as days_beyond_terms_amount_sum,
        coalesce(at_risk.at_risk_unpaid_reporting, 0) as at_risk_unpaid_reporting
    from customer_first_months
    inner join periods
        on customer_first_months.first_month_start <= periods.month_start
    left join sales
        on customer_first_months.customer_id = sales.customer_id
        and periods.month_start = sales.month_start
    left join month_end_ar
        on customer_first_months.customer_id = month_end_ar.customer_id
        and periods.month_start = month_end_ar.month_start
    left join unapplied
        on customer_first_months.customer_id = unapplied.customer_id
        and periods.month_start = unapplied.month_start
    left join collections
        on customer_first_months.customer_id = collections.customer_id
        and periods.month_start = collections.month_start
    left join paid_invoice_stats
        on customer_first_months.customer_id = paid_invoice_stats.customer_id
        and periods.month_start = paid_invoice_stats.month_start
    left join at_risk
        on customer_first_months.customer_id = at_risk.customer_id
        and periods.month_start = at_risk.month_start

),

{%- set money_columns = [
    'credit_sales_reporting', 'ar_reporting', 'current_ar_reporting', 'disputed_ar_reporting',
    'unapplied_cash_reporting', 'cash_applied_reporting', 'credits_applied_reporting',
    'written_off_reporting', 'paid_invoice_amount_reporting', 'at_risk_unpaid_reporting'] %}
{%- set count_columns = [
    'invoice_count', 'paid_invoice_count', 'days_to_pay_sum', 'days_to_pay_amount_sum',
    'days_beyond_terms_sum', 'days_beyond_terms_amount_sum'] %}

-- Customers are already one row per month; the other dimensions add customers up.
dimension_months as (

    select
        'customer' as dimension_type,
        customer_id as dimension_value,
        month_start,
        {%- for column in money_columns %}
        {{ to_money(column) }} as {{ column }},
        {%- endfor %}
        {%- for column in count_columns %}
        {{ to_whole_number(column) }} as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from customer_months
    {%- for dimension_type, dimension_value in [
        ("'total'", "'total'"),
        ("'segment'", "coalesce(customers.segment, 'unassigned')"),
        ("'collector'", "coalesce(customers.collector, 'unassigned')")] %}

    union all

    select
        {{ dimension_type }} as dimension_type,
        {{ dimension_value }} as dimension_value,
        customer_months.month_start,
        {%- for column in money_columns %}
        {{ to_money('sum(customer_months.' ~ column ~ ')') }} as {{ column }},
        {%- endfor %}
        {%- for column in count_columns %}
        {{ to_whole_number('sum(customer_months.' ~ column ~ ')') }} as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from customer_months
    -- the 'total' branch of this loop reads no customer column; the others do
    left join customers  -- noqa: ST11
        on customer_months.customer_id = customers.customer_id
    group by 1, 2, 3
    {%- endfor %}

),

final as (

    select
        dimension_months.dimension_type,
        dimension_months.dimension_value,
        periods.month_start,
        periods.month_end,
        periods.period_end_date,
        periods.days_in_period,
        {%- for column in money_columns + count_columns %}
        dimension_months.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from dimension_months
    inner join periods
        on dimension_months.month_start = periods.month_start

)

select * from final
