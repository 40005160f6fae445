{#- Inputs of the IFRS 9 provision matrix (DECISIONS.md E1-E4), per segment and aging bucket:
    the as_of exposure, and what happened over the following month to the balances that sat in
    the bucket at each complete month end of the look-back window: still in the same bucket
    (stayed), rolled into a later bucket or written off (rolled_forward), or paid / credited
    (cured). Every pair of consecutive complete month ends is valued at the first month end's
    rate, so FX moves do not look like roll or cure. -#}
{%- set as_of = as_of_date() -%}
{%- set buckets = aging_bucket_bounds(var('aging_buckets')) -%}
{%- set lookback_months = var('ecl_lookback_months') -%}
{%- if lookback_months is not number or lookback_months is sameas true or lookback_months is sameas false
    or lookback_months != lookback_months | int or lookback_months < 1 -%}
    {{ exceptions.raise_compiler_error(
        "inflow: var ecl_lookback_months must be a whole number >= 1, got '" ~ lookback_months ~ "'") }}
{%- endif -%}

with

customers as (

    select customer_id, coalesce(segment, 'unassigned') as segment
    from {{ ref('dim_customers') }}

),

bucket_list as (

    {%- for bucket in buckets %}
    select {{ bucket.order }} as bucket_order, '{{ bucket.label }}' as aging_bucket
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

month_end_balances as (

    select invoice_id, customer_id, month_start, bucket_order, open_amount, fx_rate_period_end
    from {{ ref('int_invoice_month_end_buckets') }}
    where period_end_date = month_end

),

-- Month ends m whose next month end m+1 is complete by as_of and within the look-back window.
observation_months as (

    select month_start
    from {{ ref('int_kpi_month_periods') }}
    where is_complete_month
        and cast({{ dbt.last_day(dbt.dateadd('month', 1, 'month_start'), 'month') }} as date)
            <= {{ as_of }}
        and month_start >= cast({{ dbt.dateadd(
            'month', -lookback_months, dbt.date_trunc('month', as_of)) }} as date)

),

next_month_write_offs as (

    select
        invoice_id,
        cast({{ dbt.date_trunc('month', 'event_date') }} as date) as month_start,
        -sum(amount_signed) as written_off_amount
    from {{ ref('int_invoice_events') }}
    where event_type = 'write_off'
    group by 1, 2

),

transitions as (

    select
        opening.customer_id,
        opening.bucket_order,
        opening.fx_rate_period_end,
        opening.open_amount,
        case
            when next_balance.bucket_order <= opening.bucket_order then next_balance.open_amount
            else 0
        end as stayed_amount,
        case
            when next_balance.bucket_order > opening.bucket_order then next_balance.open_amount
            else 0
        end + coalesce(next_month_write_offs.written_off_amount, 0) as rolled_forward_amount
    from month_end_balances as opening
    inner join observation_months
        on opening.month_start = observation_months.month_start
    left join month_end_balances as next_balance
        on opening.invoice_id = next_balance.invoice_id
        and next_balance.month_start
            = cast({{ dbt.dateadd('month', 1, 'opening.month_start') }} as date)
    left join next_month_write_offs
        on opening.invoice_id = next_month_write_offs.invoice_id
        and next_month_write_offs.month_start
            = cast({{ dbt.dateadd('month', 1, 'opening.month_start') }} as date)

),

flows as (

    select
        coalesce(customers.segment, 'unassigned') as segment,
        transitions.bucket_order,
        sum({{ to_reporting('transitions.open_amount', 'transitions.fx_rate_period_end') }})
            as observed_balance_reporting,
        sum({{ to_reporting('transitions.stayed_amount', 'transitions.fx_rate_period_end') }})
            as stayed_reporting,
        sum({{ to_reporting('transitions.rolled_forward_amount', 'transitions.fx_rate_period_end') }})
            as rolled_forward_reporting
    from transitions
    left join customers
        on transitions.customer_id = customers.customer_id
    group by 1, 2

),

exposure as (

    select
        coalesce(customers.segment, 'unassigned') as segment,
        invoices.aging_bucket,
        sum(invoices.open_amount_reporting) as exposure_reporting,
        count(*) as open_invoice_count
    from {{ ref('fct_ar_invoices') }} as invoices
    left join customers
        on invoices.customer_id = customers.customer_id
    where invoices.aging_bucket <> 'closed'
    group by 1, 2

),

segments as (

    select segment from flows
    union
    select segment from exposure

),

final as (

    select
        segments.segment,
        bucket_list.bucket_order,
        bucket_list.aging_bucket,
        {{ to_money('coalesce(exposure.exposure_reporting, 0)') }} as exposure_reporting,
        coalesce(exposure.open_invoice_count, 0) as open_invoice_count,
        {{ to_money('coalesce(flows.observed_balance_reporting, 0)') }} as observed_balance_reporting,
        {{ to_money('coalesce(flows.stayed_reporting, 0)') }} as stayed_reporting,
        {{ to_money('coalesce(flows.rolled_forward_reporting, 0)') }} as rolled_forward_reporting,
        {{ to_money(
            'coalesce(flows.observed_balance_reporting, 0) - coalesce(flows.stayed_reporting, 0)'
            ~ ' - coalesce(flows.rolled_forward_reporting, 0)') }} as cured_reporting
    from segments
    cross join bucket_list
    left join flows
        on segments.segment = flows.segment
        and bucket_list.bucket_order = flows.bucket_order
    left join exposure
        on segments.segment = exposure.segment
        and bucket_list.aging_bucket = exposure.aging_bucket

)

select * from final
