with

source as (

    select * from {{ source('landing', 'promises') }}
    where _status = 'accepted'

),

final as (

    select
        {{ normalize_id('promise_id') }} as promise_id,
        {{ normalize_id('customer_id') }} as customer_id,
        {{ normalize_id('document_id') }} as document_id,
        promised_date,
        promised_amount,
        created_at,
        {{ normalize_code('status') }} as status,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
