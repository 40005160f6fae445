{#- Generated from expectations/contracts.py by `python -m expectations.codegen`; do not edit. -#}
with

source as (

    select * from {{ source('landing', 'disputes') }}
    where _status = 'accepted'

),

final as (

    select
        dispute_id,
        document_id,
        opened_at,
        amount,
        reason,
        resolved_at,
        resolution,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
