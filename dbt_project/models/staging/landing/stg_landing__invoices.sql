{#- Generated from expectations/contracts.py by `python -m expectations.codegen`; do not edit. -#}
with

source as (

    select * from {{ source('landing', 'invoices') }}
    where _status = 'accepted'

),

final as (

    select
        document_id,
        customer_id,
        document_type,
        document_date,
        due_date,
        currency,
        amount,
        tax_amount,
        status,
        po_number,
        external_open_amount,
        updated_at,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
