{#- The blocking tie-out to the ERP's own open balance (DECISIONS.md D10). Per currency, over the
    invoices whose export carries the ERP's open balance and whose two balances can be compared:
    the sum over customers of the absolute difference between Inflow's open AR and the ERP's, as
    a share of the ERP's, may not exceed erp_open_balance_tolerance. Beyond it the run fails and
    publishes nothing: a share that large means Inflow is missing what reduced the balances (a
    payments or credits feed not mapped, a partial payment the export shows only as a smaller
    remaining amount), and its open AR would be a wrong number. An invoice is compared only when
    no application or write-off of it is dated after the as-of date (Inflow's balance does not
    have it, the ERP's may) or after the day its export landed (the ERP's cannot have it): a
    rebuild of an earlier day, or a payments feed fresher than the invoice export, is left to
    assert_open_ar_matches_erp_open_balances, a warning.
    Returns the currencies beyond the tolerance, with what to do (the failed run's summary shows
    these rows). -#}
{%- set as_of = as_of_date() -%}

with

later_events as (

    select document_id, applied_date as event_date from {{ ref('stg_landing__payment_applications') }}
    union all
    select document_id, write_off_date from {{ ref('stg_landing__write_offs') }}

),

comparable as (

    select
        facts.customer_id,
        facts.currency,
        facts.open_amount,
        facts.external_open_amount
    from {{ ref('fct_ar_invoices') }} as facts
    inner join {{ ref('int_invoices') }} as invoices
        on facts.invoice_id = invoices.invoice_id
    where
        facts.external_open_amount is not null
        and not exists (
            select 1
            from later_events
            where
                later_events.document_id = facts.invoice_id
                and later_events.event_date > least({{ as_of }}, cast(invoices._loaded_at as date))
        )

),

per_customer as (

    select
        customer_id,
        currency,
        sum(open_amount) as open_amount,
        sum(external_open_amount) as external_open_amount
    from comparable
    group by customer_id, currency

),

per_currency as (

    select
        currency,
        count(*) filter (where abs(open_amount - external_open_amount) > 0.01) as customers_differing,
        sum(open_amount) as open_amount,
        sum(external_open_amount) as external_open_amount,
        sum(abs(open_amount - external_open_amount)) as absolute_difference
    from per_customer
    group by currency

),

final as (

    select
        per_currency.currency,
        per_currency.customers_differing,
        per_currency.open_amount,
        per_currency.external_open_amount,
        per_currency.absolute_difference,
        round(
            {{ to_double('per_currency.absolute_difference') }}
            / nullif({{ to_double('abs(per_currency.external_open_amount)') }}, 0), 4
        ) as difference_share,
        {{ var('erp_open_balance_tolerance') }} as tolerance,
        'map the payments, credits or write-offs that reduced these balances '
        || '(or raise quality.erp_open_balance_tolerance)' as to_do
    from per_currency
    where
        per_currency.absolute_difference
        > {{ var('erp_open_balance_tolerance') }} * abs(per_currency.external_open_amount)

)

select * from final
