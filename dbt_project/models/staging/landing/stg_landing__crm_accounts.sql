with

source as (

    select * from {{ source('landing', 'crm_accounts') }}
    where _status = 'accepted'

),

final as (

    select
        {{ normalize_id('account_id') }} as account_id,
        {{ normalize_id('customer_id') }} as customer_id,
        {{ normalize_id('parent_account_id') }} as parent_account_id,
        {{ normalize_text('owner') }} as owner,
        {{ normalize_text('collector') }} as collector,
        {{ normalize_text('segment') }} as segment,
        {{ normalize_text('region') }} as region,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
