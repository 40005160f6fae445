with

source as (

    select * from {{ source('landing', 'payment_applications') }}
    where _status = 'accepted'

),

final as (

    select
        {{ normalize_id('payment_id') }} as payment_id,
        {{ normalize_id('document_id') }} as document_id,
        applied_amount,
        applied_date,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
