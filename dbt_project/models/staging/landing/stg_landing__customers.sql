with

source as (

    select * from {{ source('landing', 'customers') }}
    where _status = 'accepted'

),

final as (

    select
        {{ normalize_id('customer_id') }} as customer_id,
        {{ normalize_text('name') }} as name,
        {{ normalize_text('country') }} as country,
        {{ normalize_currency('currency') }} as currency,
        {{ normalize_text('payment_terms') }} as payment_terms,
        credit_limit,
        {{ normalize_id('erp_parent_id') }} as erp_parent_id,
        updated_at,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
