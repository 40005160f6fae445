with

source as (

    select * from {{ source('landing', 'disputes') }}
    where _status = 'accepted'

),

final as (

    select
        {{ normalize_id('dispute_id') }} as dispute_id,
        {{ normalize_id('document_id') }} as document_id,
        opened_at,
        amount,
        {{ normalize_text('reason') }} as reason,
        resolved_at,
        {{ normalize_text('resolution') }} as resolution,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
