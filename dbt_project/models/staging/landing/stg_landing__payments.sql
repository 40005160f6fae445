with

source as (

    select * from {{ source('landing', 'payments') }}
    where _status = 'accepted'

),

final as (

    select
        {{ normalize_id('payment_id') }} as payment_id,
        {{ normalize_id('customer_id') }} as customer_id,
        payment_date,
        {{ normalize_currency('currency') }} as currency,
        amount,
        {{ normalize_code('method') }} as method,
        {{ normalize_text('reference') }} as reference,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
