{#- Generated from expectations/contracts.py by `python -m expectations.codegen`; do not edit. -#}
with

source as (

    select * from {{ source('landing', 'payments') }}
    where _status = 'accepted'

),

final as (

    select
        payment_id,
        customer_id,
        payment_date,
        currency,
        amount,
        method,
        reference,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
