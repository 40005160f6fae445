{#- Generated from expectations/contracts.py by `python -m expectations.codegen`; do not edit. -#}
with

source as (

    select * from {{ source('landing', 'promises') }}
    where _status = 'accepted'

),

final as (

    select
        promise_id,
        customer_id,
        document_id,
        promised_date,
        promised_amount,
        created_at,
        status,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
