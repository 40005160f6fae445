{{ config(severity='warn') }}
{#- Where the ERP exported its own open balance, Inflow's open AR per customer and currency
    matches it within 0.01. A warning: the ERP's figure is as of its export time, which need not
    be as_of_date, and real exports carry small defects, so a difference is for the ERP owner to
    review (the run log). A gap large enough to make the open AR wrong fails the run instead
    (assert_open_ar_ties_to_erp_within_tolerance, DECISIONS.md D10). Returns the customers that
    differ. -#}

with

compared as (

    select
        customer_id,
        currency,
        sum(open_amount) as open_amount,
        sum(external_open_amount) as external_open_amount
    from {{ ref('fct_ar_invoices') }}
    where external_open_amount is not null
    group by customer_id, currency

),

final as (

    select
        customer_id,
        currency,
        open_amount,
        external_open_amount,
        open_amount - external_open_amount as difference
    from compared
    where abs(open_amount - external_open_amount) > 0.01

)

select * from final
