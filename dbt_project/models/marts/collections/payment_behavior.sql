{#- One row per customer: how it pays, as of as_of_date (DECISIONS.md P1-P6). Paid invoices are
    those closed with cash and no write-off (D4), the same population as the monthly
    days-to-pay KPIs. Trend: average days beyond terms over the last quarter (the 91 days ending
    on as_of) against the three quarters before, and the least-squares slope of days beyond terms
    per quarter over those four quarters (positive = paying later). -#}
{%- set as_of = as_of_date() -%}
{%- set quarter_days = 91 -%}

with

customers as (

    select customer_id, name, segment, collector
    from {{ ref('dim_customers') }}

),

invoices as (

    select
        invoices.*,
        payment_summary.has_partial_payment,
        coalesce(payment_summary.is_paid, false) as is_paid,
        payment_summary.days_beyond_terms
    from {{ ref('fct_ar_invoices') }} as invoices
    left join {{ ref('int_invoice_payment_summary') }} as payment_summary
        on invoices.invoice_id = payment_summary.invoice_id

),

paid_invoices as (

    select
        customer_id,
        days_to_pay,
        closed_date <= due_date as is_on_time,
        days_beyond_terms,
        -- 0 = the last quarter ending on as_of, 1 = the one before, ...
        cast(floor({{ divide(dbt.datediff('closed_date', as_of, 'day'), quarter_days) }}) as integer)
            as quarters_ago
    from invoices
    where is_paid

),

paid_stats as (

    select
        customer_id,
        count(*) as paid_invoice_count,
        percentile_cont(0.5) within group (order by days_to_pay) as days_to_pay_median,
        percentile_cont(0.9) within group (order by days_to_pay) as days_to_pay_p90,
        {{ mean('days_to_pay') }} as days_to_pay_mean,
        {{ mean('case when is_on_time then 1 else 0 end') }} as on_time_rate,
        {{ mean('case when quarters_ago = 0 then days_beyond_terms end') }}
            as avg_days_beyond_terms_last_quarter,
        {{ mean('case when quarters_ago between 1 and 3 then days_beyond_terms end') }}
            as avg_days_beyond_terms_prior_3_quarters,
        cast(sum(case when quarters_ago <= 3 then 1 else 0 end) as bigint) as trend_invoice_count,
        -- least squares of days_beyond_terms on x = -quarters_ago over the last four quarters
        sum(case when quarters_ago <= 3 then 1.0 end) as n,
        sum(case when quarters_ago <= 3 then -quarters_ago * 1.0 end) as sum_x,
        sum(case when quarters_ago <= 3 then days_beyond_terms * 1.0 end) as sum_y,
        sum(case when quarters_ago <= 3 then -quarters_ago * days_beyond_terms * 1.0 end) as sum_xy,
        sum(case when quarters_ago <= 3 then quarters_ago * quarters_ago * 1.0 end) as sum_xx
    from paid_invoices
    group by 1

),

invoice_stats as (

    select
        customer_id,
        count(*) as invoice_count,
        cast(sum(case when aging_bucket <> 'closed' then 1 else 0 end) as bigint) as open_invoice_count,
        sum(case when aging_bucket <> 'closed' then open_amount_reporting else 0 end)
            as open_amount_reporting,
        cast(sum(case when paid_amount > 0 then 1 else 0 end) as bigint) as invoices_with_payment_count,
        cast(sum(case when has_partial_payment then 1 else 0 end) as bigint) as partially_paid_invoice_count
    from invoices
    group by 1

),

disputes as (

    select
        invoices.customer_id,
        count(distinct disputes.document_id) as disputed_invoice_count,
        count(*) as dispute_count
    from {{ ref('stg_landing__disputes') }} as disputes
    inner join invoices
        on disputes.document_id = invoices.invoice_id
    where {{ dispute_raised_by(as_of, 'disputes.') }}
    group by 1

),

promises as (

    select * from {{ ref('int_customer_promise_record') }}

),

final as (

    select
        customers.customer_id,
        customers.name as customer_name,
        customers.segment,
        customers.collector,
        coalesce(invoice_stats.invoice_count, 0) as invoice_count,
        coalesce(invoice_stats.open_invoice_count, 0) as open_invoice_count,
        '{{ var("reporting_currency") }}' as reporting_currency,
        {{ to_money('coalesce(invoice_stats.open_amount_reporting, 0)') }} as open_amount_reporting,
        coalesce(paid_stats.paid_invoice_count, 0) as paid_invoice_count,
        {{ decimal_from_double('paid_stats.days_to_pay_median', 12, 1) }} as days_to_pay_median,
        {{ decimal_from_double('paid_stats.days_to_pay_p90', 12, 1) }} as days_to_pay_p90,
        {{ decimal_from_double('paid_stats.days_to_pay_mean', 12, 1) }} as days_to_pay_mean,
        {{ decimal_from_double('paid_stats.on_time_rate', 9, 4) }} as on_time_rate,
        {{ decimal_from_double('paid_stats.avg_days_beyond_terms_last_quarter', 12, 1) }}
            as avg_days_beyond_terms_last_quarter,
        {{ decimal_from_double('paid_stats.avg_days_beyond_terms_prior_3_quarters', 12, 1) }}
            as avg_days_beyond_terms_prior_3_quarters,
        {{ decimal_from_double(
            'paid_stats.avg_days_beyond_terms_last_quarter - paid_stats.avg_days_beyond_terms_prior_3_quarters',
            12, 1) }}
            as days_beyond_terms_trend,
        {{ decimal_from_double(divide(
            'paid_stats.n * paid_stats.sum_xy - paid_stats.sum_x * paid_stats.sum_y',
            'nullif(paid_stats.n * paid_stats.sum_xx - paid_stats.sum_x * paid_stats.sum_x, 0)'),
            12, 2) }} as days_beyond_terms_slope_per_quarter,
        coalesce(paid_stats.trend_invoice_count, 0) as trend_invoice_count,
        coalesce(invoice_stats.invoices_with_payment_count, 0) as invoices_with_payment_count,
        coalesce(invoice_stats.partially_paid_invoice_count, 0) as partially_paid_invoice_count,
        {{ decimal_from_double(divide(
            'invoice_stats.partially_paid_invoice_count',
            'nullif(invoice_stats.invoices_with_payment_count, 0)'), 9, 4) }}
            as partial_payment_share,
        coalesce(disputes.disputed_invoice_count, 0) as disputed_invoice_count,
        {{ decimal_from_double(divide(
            'coalesce(disputes.disputed_invoice_count, 0)', 'nullif(invoice_stats.invoice_count, 0)'), 9, 4) }}
            as dispute_rate,
        coalesce(promises.promise_count, 0) as promise_count,
        coalesce(promises.judged_count, 0) as promises_due_count,
        coalesce(promises.kept_count, 0) as promises_kept_count,
        coalesce(promises.partially_kept_count, 0) as promises_partially_kept_count,
        coalesce(promises.broken_count, 0) as promises_broken_count,
        {{ decimal_from_double(divide('promises.broken_count', 'nullif(promises.judged_count, 0)'), 9, 4) }}
            as broken_promise_rate,
        promises.kept_rate as promise_kept_rate,
        promises.paid_share_judged as promise_paid_share,
        {{ as_of }} as as_of_date
    from customers
    left join invoice_stats
        on customers.customer_id = invoice_stats.customer_id
    left join paid_stats
        on customers.customer_id = paid_stats.customer_id
    left join disputes
        on customers.customer_id = disputes.customer_id
    left join promises
        on customers.customer_id = promises.customer_id

)

select * from final
