{#- Generated from expectations/contracts.py by `python -m expectations.codegen`; do not edit. -#}
with

source as (

    select * from {{ source('landing', 'activities') }}
    where _status = 'accepted'

),

final as (

    select
        activity_id,
        customer_id,
        document_id,
        activity_date,
        kind,
        text,
        author,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
