with

source as (

    select * from {{ source('landing', 'activities') }}
    where _status = 'accepted'

),

final as (

    select
        {{ normalize_id('activity_id') }} as activity_id,
        {{ normalize_id('customer_id') }} as customer_id,
        {{ normalize_id('document_id') }} as document_id,
        activity_date,
        {{ normalize_code('kind') }} as kind,
        {{ normalize_text('text') }} as text,
        {{ normalize_text('author') }} as author,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
