{#- Generated from expectations/contracts.py by `python -m expectations.codegen`; do not edit. -#}
with

source as (

    select * from {{ source('landing', 'customers') }}
    where _status = 'accepted'

),

final as (

    select
        customer_id,
        name,
        country,
        currency,
        payment_terms,
        credit_limit,
        erp_parent_id,
        updated_at,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
