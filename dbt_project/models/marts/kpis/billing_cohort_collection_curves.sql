{#- Billing-cohort collection curves (DECISIONS.md K9): for the invoices billed in a month, the
    cumulative share paid in cash, credited and written off by the end of each month since
    billing (0 = the billing month itself, up to kpi_cohort_max_months), for the whole portfolio
    and by segment. Every amount of an invoice is valued at its invoice-date rate, so the shares
    move only with collection, not with FX. -#}
{%- set as_of = as_of_date() -%}
{%- set max_months = var('kpi_cohort_max_months') -%}
{%- if max_months is not number or max_months is sameas true or max_months is sameas false
    or max_months != max_months | int or max_months < 1 -%}
    {{ exceptions.raise_compiler_error(
        "inflow: var kpi_cohort_max_months must be a whole number >= 1, got '" ~ max_months ~ "'") }}
{%- endif -%}

with

customers as (

    select customer_id, coalesce(segment, 'unassigned') as segment
    from {{ ref('dim_customers') }}

),

invoices as (

    select
        invoices.invoice_id,
        cast({{ dbt.date_trunc('month', 'invoices.invoice_date') }} as date) as cohort_month,
        invoices.amount_reporting,
        invoices.fx_rate_invoice_date,
        coalesce(customers.segment, 'unassigned') as segment
    from {{ ref('fct_ar_invoices') }} as invoices
    left join customers
        on invoices.customer_id = customers.customer_id

),

-- Reductions by segment, cohort and month since billing; anything applied before the billing
-- month counts in month 0, anything after the last month shown is left out.
segment_reductions as (

    select
        invoices.segment,
        invoices.cohort_month,
        case
            when {{ dbt.datediff('invoices.cohort_month', 'events.event_date', 'month') }} < 0 then 0
            else {{ dbt.datediff('invoices.cohort_month', 'events.event_date', 'month') }}
        end as months_since_billing,
        sum(case when events.event_type = 'payment'
            then {{ to_reporting('-events.amount_signed', 'invoices.fx_rate_invoice_date') }}
            else 0 end) as cash_reporting,
        sum(case when events.event_type = 'credit_memo'
            then {{ to_reporting('-events.amount_signed', 'invoices.fx_rate_invoice_date') }}
            else 0 end) as credited_reporting,
        sum(case when events.event_type = 'write_off'
            then {{ to_reporting('-events.amount_signed', 'invoices.fx_rate_invoice_date') }}
            else 0 end) as written_off_reporting
    from {{ ref('int_invoice_events') }} as events
    inner join invoices
        on events.invoice_id = invoices.invoice_id
    where events.event_type <> 'issued'
        and {{ dbt.datediff('invoices.cohort_month', 'events.event_date', 'month') }} <= {{ max_months }}
    group by 1, 2, 3

),

segment_cohorts as (

    select
        segment,
        cohort_month,
        sum(amount_reporting) as billed_reporting,
        count(*) as invoice_count
    from invoices
    group by 1, 2

),

{%- set dimensions = [("'total'", "'total'"), ("'segment'", "segment")] %}

cohorts as (

    {%- for dimension_type, dimension_value in dimensions %}
    select
        {{ dimension_type }} as dimension_type,
        {{ dimension_value }} as dimension_value,
        cohort_month,
        sum(billed_reporting) as billed_reporting,
        cast(sum(invoice_count) as bigint) as invoice_count
    from segment_cohorts
    group by 1, 2, 3
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

cohort_reductions as (

    {%- for dimension_type, dimension_value in dimensions %}
    select
        {{ dimension_type }} as dimension_type,
        {{ dimension_value }} as dimension_value,
        cohort_month,
        months_since_billing,
        sum(cash_reporting) as cash_reporting,
        sum(credited_reporting) as credited_reporting,
        sum(written_off_reporting) as written_off_reporting
    from segment_reductions
    group by 1, 2, 3, 4
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

month_offsets as (

    select generated_number - 1 as months_since_billing
    from ({{ dbt.generate_series(max_months + 1) }}) as offsets

),

-- Only months since billing that have started by as_of.
cohort_grid as (

    select
        cohorts.dimension_type,
        cohorts.dimension_value,
        cohorts.cohort_month,
        month_offsets.months_since_billing,
        cohorts.billed_reporting,
        cohorts.invoice_count,
        cast({{ dbt.last_day(dbt.dateadd('month', 'month_offsets.months_since_billing',
            'cohorts.cohort_month'), 'month') }} as date) as month_end
    from cohorts
    cross join month_offsets
    where cast({{ dbt.dateadd('month', 'month_offsets.months_since_billing', 'cohorts.cohort_month') }} as date)
        <= {{ as_of }}
),

cumulative as (

    select
        cohort_grid.*,
        {%- for measure in ['cash_reporting', 'credited_reporting', 'written_off_reporting'] %}
        sum(coalesce(cohort_reductions.{{ measure }}, 0)) over (
            partition by cohort_grid.dimension_type, cohort_grid.dimension_value, cohort_grid.cohort_month
            order by cohort_grid.months_since_billing
            rows between unbounded preceding and current row
        ) as cumulative_{{ measure }}{{ ',' if not loop.last }}
        {%- endfor %}
    from cohort_grid
    left join cohort_reductions
        on cohort_grid.dimension_type = cohort_reductions.dimension_type
        and cohort_grid.dimension_value = cohort_reductions.dimension_value
        and cohort_grid.cohort_month = cohort_reductions.cohort_month
        and cohort_grid.months_since_billing = cohort_reductions.months_since_billing

),

final as (

    select
        dimension_type,
        dimension_value,
        cohort_month,
        cast(months_since_billing as integer) as months_since_billing,
        month_end <= {{ as_of }} as is_complete_month,
        '{{ var("reporting_currency") }}' as reporting_currency,
        invoice_count,
        {{ to_money('billed_reporting') }} as billed_reporting,
        {{ to_money('cumulative_cash_reporting') }} as collected_reporting,
        {{ to_money('cumulative_credited_reporting') }} as credited_reporting,
        {{ to_money('cumulative_written_off_reporting') }} as written_off_reporting,
        {{ decimal_from_double(divide('cumulative_cash_reporting', 'nullif(billed_reporting, 0)'), 9, 4) }}
            as share_collected,
        {{ decimal_from_double(divide('cumulative_credited_reporting', 'nullif(billed_reporting, 0)'), 9, 4) }}
            as share_credited,
        {{ decimal_from_double(divide('cumulative_written_off_reporting', 'nullif(billed_reporting, 0)'), 9, 4) }}
            as share_written_off,
        {{ as_of }} as as_of_date
    from cumulative

)

select * from final
