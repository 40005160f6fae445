{#- Generated from expectations/contracts.py by `python -m expectations.codegen`; do not edit. -#}
with

source as (

    select * from {{ source('landing', 'crm_contacts') }}
    where _status = 'accepted'

),

final as (

    select
        contact_id,
        account_id,
        name,
        email,
        phone,
        role,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
