with

source as (

    select * from {{ source('landing', 'write_offs') }}
    where _status = 'accepted'

),

final as (

    select
        {{ normalize_id('document_id') }} as document_id,
        amount,
        write_off_date,
        {{ normalize_text('reason') }} as reason,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
