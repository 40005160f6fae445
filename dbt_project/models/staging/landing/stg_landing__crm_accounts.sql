{#- Generated from expectations/contracts.py by `python -m expectations.codegen`; do not edit. -#}
with

source as (

    select * from {{ source('landing', 'crm_accounts') }}
    where _status = 'accepted'

),

final as (

    select
        account_id,
        customer_id,
        parent_account_id,
        owner,
        collector,
        segment,
        region,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
