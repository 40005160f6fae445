with

source as (

    select * from {{ source('landing', 'crm_contacts') }}
    where _status = 'accepted'

),

final as (

    select
        {{ normalize_id('contact_id') }} as contact_id,
        {{ normalize_id('account_id') }} as account_id,
        {{ normalize_text('name') }} as name,
        lower({{ normalize_text('email') }}) as email,
        {{ normalize_text('phone') }} as phone,
        {{ normalize_code('role') }} as role,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
