{#- One rate per currency and day, from the currency's first quoted day to as_of_date: each day
    carries the latest rate quoted on or before it (forward fill over weekends, holidays and
    gaps; never backward, so a day before a currency's first quote has no rate). The reporting
    currency is 1 every day from the earliest document, payment or rate. Rates quoted after
    as_of_date are ignored, so an earlier as_of rebuilds exactly the earlier answer. -#}
{%- set as_of = as_of_date() -%}
{%- set reporting_currency = dbt.string_literal(var('reporting_currency') | upper) -%}

with

quoted as (

    select
        rate_date,
        currency,
        rate_to_reporting
    from {{ ref('stg_landing__fx_rates') }}
    where rate_date <= {{ as_of }}
        and currency <> {{ reporting_currency }}

),

quote_periods as (

    select
        currency,
        rate_date as quoted_rate_date,
        coalesce(
            lead(rate_date) over (partition by currency order by rate_date),
            {{ add_days(as_of, 1) }}
        ) as next_quote_date,
        rate_to_reporting
    from quoted

),

first_day as (

    select min(first_date) as first_date
    from (
        select min(rate_date) as first_date from quoted
        union all
        select min(document_date) from {{ ref('stg_landing__invoices') }} where document_date <= {{ as_of }}
        union all
        select min(payment_date) from {{ ref('stg_landing__payments') }} where payment_date <= {{ as_of }}
    ) as candidates

),

days as (

    {{ day_spine('(select first_date from first_day)', as_of) }}

),

foreign_rates as (

    select
        days.date_day as rate_date,
        quote_periods.currency,
        quote_periods.rate_to_reporting,
        quote_periods.quoted_rate_date
    from days
    inner join quote_periods
        on days.date_day >= quote_periods.quoted_rate_date
        and days.date_day < quote_periods.next_quote_date

),

reporting_rates as (

    select
        date_day as rate_date,
        {{ reporting_currency }} as currency,
        1 as rate_to_reporting,
        date_day as quoted_rate_date
    from days

),

unioned as (

    select * from foreign_rates
    union all
    select * from reporting_rates

),

final as (

    select
        rate_date,
        {{ dbt.cast('currency', api.Column.translate_type('string')) }} as currency,
        {{ to_rate('rate_to_reporting') }} as rate_to_reporting,
        quoted_rate_date
    from unioned

)

select * from final
