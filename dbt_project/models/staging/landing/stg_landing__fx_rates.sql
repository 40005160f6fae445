{#- Generated from expectations/contracts.py by `python -m expectations.codegen`; do not edit. -#}
with

source as (

    select * from {{ source('landing', 'fx_rates') }}
    where _status = 'accepted'

),

final as (

    select
        rate_date,
        currency,
        rate_to_reporting,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
