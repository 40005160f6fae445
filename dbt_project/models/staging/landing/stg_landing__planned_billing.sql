with

source as (

    select * from {{ source('landing', 'planned_billing') }}
    where _status = 'accepted'

),

final as (

    select
        {{ normalize_id('plan_id') }} as plan_id,
        {{ normalize_id('customer_id') }} as customer_id,
        expected_invoice_date,
        {{ normalize_currency('currency') }} as currency,
        amount,
        {{ normalize_code('kind') }} as kind,
        {{ normalize_id('subscription_id') }} as subscription_id,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
