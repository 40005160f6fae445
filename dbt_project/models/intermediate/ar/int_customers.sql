{#- Every customer the marts know: the customer master, plus each customer the accepted documents
    name that the master lacks (or every customer, when no master is configured), derived with its
    id as its name so nothing downstream (dim_customers, the ECL segments, the worklist) loses the
    documents. is_derived says which. Only documents dated on or before the as-of date count. -#}
{%- set as_of = as_of_date() -%}

with

master as (

    select customer_id, name, country, currency, payment_terms, credit_limit, erp_parent_id
    from {{ ref('stg_landing__customers') }}

),

derived as (

    select
        invoices.customer_id,
        invoices.customer_id as name,
        cast(null as {{ dbt.type_string() }}) as country,
        min(invoices.currency) as currency,
        cast(null as {{ dbt.type_string() }}) as payment_terms,
        cast(null as decimal(18, 2)) as credit_limit,
        cast(null as {{ dbt.type_string() }}) as erp_parent_id
    from {{ ref('stg_landing__invoices') }} as invoices
    left join master
        on invoices.customer_id = master.customer_id
    where master.customer_id is null
        and invoices.document_date <= {{ as_of }}
    group by invoices.customer_id

),

final as (

    select *, false as is_derived from master
    union all
    select *, true as is_derived from derived

)

select * from final
