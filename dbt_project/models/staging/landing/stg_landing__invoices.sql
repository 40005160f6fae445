with

source as (

    select * from {{ source('landing', 'invoices') }}
    where _status = 'accepted'

),

final as (

    select
        {{ normalize_id('document_id') }} as document_id,
        {{ normalize_id('customer_id') }} as customer_id,
        {{ normalize_code('document_type') }} as document_type,
        document_date,
        due_date,
        {{ normalize_currency('currency') }} as currency,
        amount,
        tax_amount,
        {{ normalize_code('status') }} as status,
        {{ normalize_text('po_number') }} as po_number,
        external_open_amount,
        updated_at,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
