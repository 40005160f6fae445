{#- One row per calendar month from the first invoice month to the month holding as_of_date.
    The month of as_of_date is a partial period ending on as_of_date, never on a later day. -#}
{%- set as_of = as_of_date() -%}

with

first_invoice_month as (

    select cast({{ dbt.date_trunc('month', 'min(invoice_date)') }} as date) as month_start
    from {{ ref('fct_ar_invoices') }}

),

month_offsets as (

    {{ dbt.generate_series(var('kpi_max_history_months')) }}
),

months as (

    select
        cast({{ dbt.dateadd(
            'month', '1 - month_offsets.generated_number',
            dbt.date_trunc('month', as_of)) }} as date) as month_start
    from month_offsets

),

month_ends as (

    select
        months.month_start,
        cast({{ dbt.last_day('months.month_start', 'month') }} as date) as month_end
    from months
    inner join first_invoice_month
        on months.month_start >= first_invoice_month.month_start

),

periods as (

    select
        month_start,
        month_end,
        case when month_end > {{ as_of }} then {{ as_of }} else month_end end as period_end_date
    from month_ends

),

final as (

    select
        month_start,
        month_end,
        period_end_date,
        cast({{ dbt.datediff('month_start', 'period_end_date', 'day') }} + 1 as bigint) as days_in_period,
        period_end_date = month_end as is_complete_month
    from periods

)

select * from final
