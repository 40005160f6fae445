with

source as (

    select * from {{ source('landing', 'bank_lines') }}
    where _status = 'accepted'

),

final as (

    select
        {{ normalize_id('line_id') }} as line_id,
        value_date,
        {{ normalize_currency('currency') }} as currency,
        amount,
        {{ normalize_text('reference') }} as reference,
        {{ normalize_text('counterparty') }} as counterparty,
        fee,
        {{ normalize_id('payout_id') }} as payout_id,
        _source,
        _file,
        _row_number,
        _loaded_at
    from source

)

select * from final
