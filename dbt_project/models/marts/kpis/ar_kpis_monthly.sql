{#- AR KPIs per month and dimension, computed from the additive monthly series of
    int_ar_monthly_inputs (so every formula is unit-tested on hand-made rows). Definitions,
    inclusion rules and FX basis: dbt_project/DECISIONS.md (K1-K10, D1-D6). -#}
{%- set as_of = as_of_date() -%}
{%- set dso_months = var('kpi_dso_months') -%}
{%- set cei_months = var('kpi_cei_months') -%}
{%- set countback_months = var('kpi_countback_max_months') -%}
{%- set at_risk_days = var('kpi_at_risk_days') -%}
{%- set series = 'partition by dimension_type, dimension_value order by month_start' -%}
{%- for name, value in [('kpi_dso_months', dso_months), ('kpi_cei_months', cei_months),
                        ('kpi_countback_max_months', countback_months), ('kpi_at_risk_days', at_risk_days)] -%}
    {%- if value is not number or value is sameas true or value is sameas false
        or value != value | int or value < 1 -%}
        {{ exceptions.raise_compiler_error(
            "inflow: var " ~ name ~ " must be a whole number >= 1, got '" ~ value ~ "'") }}
    {%- endif -%}
{%- endfor -%}

with

inputs as (

    select * from {{ ref('int_ar_monthly_inputs') }}

),

running as (

    select
        inputs.*,
        sum(credit_sales_reporting) over (
            {{ series }} rows between unbounded preceding and current row
        ) as running_sales,
        sum(days_in_period) over (
            {{ series }} rows between unbounded preceding and current row
        ) as running_days
    from inputs

),

-- sales_back_j / days_back_j: sales and days of the j+1 latest months (0 = this month alone);
-- a window reaching before the series start just covers the months that exist.
windowed as (

    select
        running.*,
        coalesce(lag(ar_reporting, 1) over ({{ series }}), 0) as opening_ar_reporting,
        coalesce(lag(ar_reporting, {{ cei_months }}) over ({{ series }}), 0)
            as trailing_opening_ar_reporting,
        running_sales - coalesce(lag(running_sales, {{ cei_months }}) over ({{ series }}), 0)
            as cei_trailing_sales_reporting,
        running_sales - coalesce(lag(running_sales, {{ dso_months }}) over ({{ series }}), 0)
            as dso_trailing_sales_reporting,
        running_days - coalesce(lag(running_days, {{ dso_months }}) over ({{ series }}), 0)
            as dso_trailing_days,
        {%- for j in range(countback_months) %}
        running_sales - coalesce(lag(running_sales, {{ j + 1 }}) over ({{ series }}), 0)
            as sales_back_{{ j }},
        running_days - coalesce(lag(running_days, {{ j + 1 }}) over ({{ series }}), 0)
            as days_back_{{ j }}{{ ',' if not loop.last }}
        {%- endfor %}
    from running

),

-- K2: countback (exhaustion): walk back month by month, consuming each month's sales against
-- the AR; the month that exhausts it counts pro rata (its sales = sales_back_j - sales_back_j-1,
-- never 0 there because AR lies above sales_back_j-1 and at most sales_back_j). Capped at
-- kpi_countback_max_months: AR above all the window's sales gives the window's days.
countback as (

    select
        windowed.*,
        case
            when ar_reporting <= 0 then 0
            when ar_reporting <= sales_back_0
                then {{ divide('ar_reporting', 'sales_back_0') }} * days_back_0
            {%- for j in range(1, countback_months) %}
            when ar_reporting <= sales_back_{{ j }}
                then days_back_{{ j - 1 }}
                    + {{ divide(
                        'ar_reporting - sales_back_' ~ (j - 1),
                        'sales_back_' ~ j ~ ' - sales_back_' ~ (j - 1)) }}
                    * (days_back_{{ j }} - days_back_{{ j - 1 }})
            {%- endfor %}
            else days_back_{{ countback_months - 1 }}
        end as dso_countback_raw,
        ar_reporting > sales_back_{{ countback_months - 1 }} as dso_countback_is_capped
    from windowed

),

ratios as (

    select
        countback.*,
        -- K1 / K3: simple DSO and best-possible DSO share the trailing sales window.
        {{ divide('ar_reporting * dso_trailing_days', 'nullif(dso_trailing_sales_reporting, 0)') }} as dso_simple_raw,
        -- K10: the same DSO over the AR not under dispute.
        {{ divide(
            '(ar_reporting - disputed_ar_reporting) * dso_trailing_days',
            'nullif(dso_trailing_sales_reporting, 0)') }}
            as dso_undisputed_raw,
        {{ divide('current_ar_reporting * dso_trailing_days', 'nullif(dso_trailing_sales_reporting, 0)') }}
            as bpdso_raw,
        -- K5: CEI = collected / collectible, monthly and over the trailing window.
        {{ divide(
            '(opening_ar_reporting + credit_sales_reporting - ar_reporting) * 100',
            'nullif(opening_ar_reporting + credit_sales_reporting - current_ar_reporting, 0)') }}
            as cei_raw,
        {{ divide(
            '(trailing_opening_ar_reporting + cei_trailing_sales_reporting - ar_reporting) * 100',
            'nullif(trailing_opening_ar_reporting + cei_trailing_sales_reporting - current_ar_reporting, 0)') }}
            as cei_trailing_raw
    from countback

),

final as (

    select
        dimension_type,
        dimension_value,
        month_start,
        month_end,
        period_end_date,
        days_in_period,
        period_end_date = month_end as is_complete_month,
        '{{ var("reporting_currency") }}' as reporting_currency,
        credit_sales_reporting,
        invoice_count,
        opening_ar_reporting,
        ar_reporting,
        current_ar_reporting,
        {{ to_money('ar_reporting - current_ar_reporting') }} as past_due_ar_reporting,
        disputed_ar_reporting,
        -- K10: dispute-adjusted AR.
        {{ to_money('ar_reporting - disputed_ar_reporting') }} as undisputed_ar_reporting,
        {{ decimal_from_double(divide('disputed_ar_reporting * 100', 'nullif(ar_reporting, 0)'), 12, 1) }}
            as disputed_ar_pct,
        unapplied_cash_reporting,
        {{ to_money('ar_reporting - unapplied_cash_reporting') }} as net_ar_reporting,
        cash_applied_reporting,
        credits_applied_reporting,
        written_off_reporting,
        {{ dso_months }} as dso_window_months,
        {{ decimal_from_double('dso_simple_raw', 12, 1) }} as dso_simple_days,
        {{ decimal_from_double('dso_undisputed_raw', 12, 1) }} as dso_undisputed_days,
        {{ decimal_from_double('dso_countback_raw', 12, 1) }} as dso_countback_days,
        dso_countback_is_capped,
        {{ decimal_from_double('bpdso_raw', 12, 1) }} as bpdso_days,
        -- K4: ADD = simple DSO - BPDSO (same window, so it is the past-due share of DSO).
        {{ decimal_from_double('dso_simple_raw - bpdso_raw', 12, 1) }} as add_days,
        {{ cei_months }} as cei_window_months,
        {{ decimal_from_double('cei_raw', 12, 1) }} as cei_pct,
        {{ decimal_from_double('cei_trailing_raw', 12, 1) }} as cei_trailing_pct,
        -- K6: over invoices paid (closed with cash, no write-off) in the month.
        paid_invoice_count,
        {{ decimal_from_double(divide('days_to_pay_sum', 'nullif(paid_invoice_count, 0)'), 12, 1) }}
            as avg_days_to_pay,
        {{ decimal_from_double(divide('days_to_pay_amount_sum', 'nullif(paid_invoice_amount_reporting, 0)'), 12, 1) }}
            as avg_days_to_pay_amount_weighted,
        {{ decimal_from_double(divide('days_beyond_terms_sum', 'nullif(paid_invoice_count, 0)'), 12, 1) }}
            as avg_days_beyond_terms,
        {{ decimal_from_double(
            divide('days_beyond_terms_amount_sum', 'nullif(paid_invoice_amount_reporting, 0)'), 12, 1) }}
            as avg_days_beyond_terms_amount_weighted,
        -- K7
        {{ decimal_from_double(divide('current_ar_reporting * 100', 'nullif(ar_reporting, 0)'), 12, 1) }}
            as pct_current,
        -- K8: only once the horizon has passed by as_of.
        case
            when cast({{ dbt.dateadd('day', at_risk_days, 'month_end') }} as date) <= {{ as_of }}
                then {{ decimal_from_double(
                    divide('at_risk_unpaid_reporting * 100', 'nullif(credit_sales_reporting, 0)'), 12, 1) }}
        end as at_risk_rate_pct,
        {{ as_of }} as as_of_date
    from ratios

)

select * from final
