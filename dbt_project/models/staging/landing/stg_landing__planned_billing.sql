{#- Generated from expectations/contracts.py by `python -m expectations.codegen`; do not edit. -#}
with

source as (

    select * from {{ source('landing', 'planned_billing') }}
    where _status = 'accepted'

),

final as (

    select
        plan_id,
        customer_id,
        expected_invoice_date,
        currency,
        amount,
        kind,
        subscription_id,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
