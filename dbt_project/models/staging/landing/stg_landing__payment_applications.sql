{#- Generated from expectations/contracts.py by `python -m expectations.codegen`; do not edit. -#}
with

source as (

    select * from {{ source('landing', 'payment_applications') }}
    where _status = 'accepted'

),

final as (

    select
        payment_id,
        document_id,
        applied_amount,
        applied_date,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
