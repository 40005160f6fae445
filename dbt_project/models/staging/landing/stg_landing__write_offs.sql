{#- Generated from expectations/contracts.py by `python -m expectations.codegen`; do not edit. -#}
with

source as (

    select * from {{ source('landing', 'write_offs') }}
    where _status = 'accepted'

),

final as (

    select
        document_id,
        amount,
        write_off_date,
        reason,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
