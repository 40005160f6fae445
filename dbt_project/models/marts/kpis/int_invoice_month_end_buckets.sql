{{ config(schema='intermediate') }}

{#- Open balance, aging bucket and dispute flag of every invoice at every period end (month end,
    or as_of_date for the current month) at which it was open. Rebuilt from the event history,
    so a month end shows what was open then, not today's balance. Bounded: an invoice has rows
    only from its issue month to the month its balance last changed (or as_of when still open). -#}
{%- set as_of = date_literal(var('as_of_date')) -%}

with

invoices as (

    select invoice_id, customer_id, currency, invoice_date, due_date
    from {{ ref('fct_ar_invoices') }}

),

events as (

    select invoice_id, event_date, amount_signed
    from {{ ref('int_invoice_events') }}

),

periods as (

    select month_start, month_end, period_end_date
    from {{ ref('int_kpi_month_periods') }}

),

first_period as (

    select min(month_start) as month_start
    from periods

),

-- Events before the first period (older than kpi_max_history_months) open the first period.
event_months as (

    select
        events.invoice_id,
        case
            when cast({{ dbt.date_trunc('month', 'events.event_date') }} as date)
                < first_period.month_start
                then first_period.month_start
            else cast({{ dbt.date_trunc('month', 'events.event_date') }} as date)
        end as month_start,
        sum(events.amount_signed) as balance_change
    from events
    cross join first_period
    group by 1, 2

),

invoice_spans as (

    select
        invoice_id,
        min(month_start) as first_month_start,
        case
            when sum(balance_change) > 0
                then cast({{ dbt.date_trunc('month', as_of) }} as date)
            else max(month_start)
        end as last_month_start
    from event_months
    group by 1

),

invoice_periods as (

    select
        invoice_spans.invoice_id,
        periods.month_start,
        periods.month_end,
        periods.period_end_date
    from invoice_spans
    inner join periods
        on periods.month_start >= invoice_spans.first_month_start
        and periods.month_start <= invoice_spans.last_month_start

),

balances as (

    select
        invoice_periods.invoice_id,
        invoice_periods.month_start,
        invoice_periods.month_end,
        invoice_periods.period_end_date,
        sum(coalesce(event_months.balance_change, 0)) over (
            partition by invoice_periods.invoice_id
            order by invoice_periods.month_start
            rows between unbounded preceding and current row
        ) as open_amount
    from invoice_periods
    left join event_months
        on invoice_periods.invoice_id = event_months.invoice_id
        and invoice_periods.month_start = event_months.month_start

),

open_balances as (

    select
        balances.invoice_id,
        invoices.customer_id,
        invoices.currency,
        balances.month_start,
        balances.month_end,
        balances.period_end_date,
        {{ to_money('balances.open_amount') }} as open_amount,
        {{ aging_days('invoices.' ~ aging_basis_column(var('aging_basis')), 'balances.period_end_date') }}
            as aging_days
    from balances
    inner join invoices
        on balances.invoice_id = invoices.invoice_id
    where balances.open_amount > 0

),

disputed as (

    select distinct
        open_balances.invoice_id,
        open_balances.month_start
    from open_balances
    inner join {{ ref('stg_landing__disputes') }} as disputes
        on open_balances.invoice_id = disputes.document_id
        and cast(disputes.opened_at as date) <= open_balances.period_end_date
        and (
            disputes.resolved_at is null
            or cast(disputes.resolved_at as date) > open_balances.period_end_date
        )

),

final as (

    select
        open_balances.invoice_id,
        open_balances.customer_id,
        open_balances.currency,
        open_balances.month_start,
        open_balances.month_end,
        open_balances.period_end_date,
        open_balances.open_amount,
        fx.rate_to_reporting as fx_rate_period_end,
        {{ to_reporting('open_balances.open_amount', 'fx.rate_to_reporting') }}
            as open_amount_reporting,
        open_balances.aging_days,
        {{ aging_bucket_case('open_balances.aging_days', var('aging_buckets'), 'order') }}
            as bucket_order,
        {{ aging_bucket_case('open_balances.aging_days', var('aging_buckets'), 'label') }}
            as aging_bucket,
        disputed.invoice_id is not null as is_disputed
    from open_balances
    left join {{ ref('int_fx_rates_daily') }} as fx
        on open_balances.currency = fx.currency
        and open_balances.period_end_date = fx.rate_date
    left join disputed
        on open_balances.invoice_id = disputed.invoice_id
        and open_balances.month_start = disputed.month_start

)

select * from final
