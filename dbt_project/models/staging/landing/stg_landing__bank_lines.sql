{#- Generated from expectations/contracts.py by `python -m expectations.codegen`; do not edit. -#}
with

source as (

    select * from {{ source('landing', 'bank_lines') }}
    where _status = 'accepted'

),

final as (

    select
        line_id,
        value_date,
        currency,
        amount,
        reference,
        counterparty,
        fee,
        payout_id,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
