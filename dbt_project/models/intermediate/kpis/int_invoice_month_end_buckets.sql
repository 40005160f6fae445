{#- Open balance, aging bucket and dispute flag of every invoice at every period end (month end,
    or as_of_date for the current month) at which it was open, read off the base layer's balance
    step function (int_invoice_balance_changes, built from int_invoice_events), so a month end
    shows what was open then, not today's balance. Bounded: one row per invoice and period end
    at which its balance was > 0. -#}
{%- set as_of = as_of_date() -%}

with

invoices as (

    select invoice_id, customer_id, currency, invoice_date, due_date
    from {{ ref('fct_ar_invoices') }}

),

periods as (

    select month_start, month_end, period_end_date
    from {{ ref('int_kpi_month_periods') }}

),

-- The base layer's balance step function: balance_after holds from change_date until the day
-- before next_change_date (null = through as_of_date). Only open stretches are needed.
open_stretches as (

    select
        invoice_id,
        change_date,
        coalesce(next_change_date, cast({{ dbt.dateadd('day', 1, as_of) }} as date)) as valid_until,
        balance_after
    from {{ ref('int_invoice_balance_changes') }}
    where balance_after > 0

),

balances as (

    select
        open_stretches.invoice_id,
        periods.month_start,
        periods.month_end,
        periods.period_end_date,
        open_stretches.balance_after as open_amount
    from open_stretches
    inner join periods
        on open_stretches.change_date <= periods.period_end_date
        and open_stretches.valid_until > periods.period_end_date

),

open_balances as (

    select
        balances.invoice_id,
        invoices.customer_id,
        invoices.currency,
        balances.month_start,
        balances.month_end,
        balances.period_end_date,
        balances.open_amount,
        {{ aging_days('invoices.' ~ aging_basis_column(var('aging_basis')), 'balances.period_end_date') }}
            as aging_days
    from balances
    inner join invoices
        on balances.invoice_id = invoices.invoice_id

),

disputed as (

    select distinct
        open_balances.invoice_id,
        open_balances.month_start
    from open_balances
    inner join {{ ref('stg_landing__disputes') }} as disputes
        on open_balances.invoice_id = disputes.document_id
        and {{ dispute_open_on('open_balances.period_end_date', 'disputes.') }}

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
