{#- One row per invoice and debit memo issued on or before as_of_date, with its balance exactly
    as of that day: open_amount = amount - payments - credit memos - write-offs dated on or
    before as_of_date, floored at zero (an over-application closes the invoice; the excess is the
    customer's credit in customer_credit_balances). Rebuilding an earlier as_of_date after later
    payments arrived gives exactly the earlier answer, because every input is filtered to events
    dated on or before it. FX: amount_reporting at the invoice-date rate, open_amount_reporting
    at the as_of-date rate (int_fx_rates_daily, forward-filled). -#}
{%- set as_of = as_of_date() -%}
{%- set basis = aging_basis_column(var('aging_basis')) -%}

with

invoices as (

    select * from {{ ref('int_invoices') }}

),

settled as (

    select
        invoice_id,
        sum(case when event_type = 'payment' then -amount_signed else 0 end) as paid_amount,
        sum(case when event_type = 'credit_memo' then -amount_signed else 0 end) as credited_amount,
        sum(case when event_type = 'write_off' then -amount_signed else 0 end) as written_off_amount
    from {{ ref('int_invoice_events') }}
    group by invoice_id

),

balances as (

    select
        invoice_id,
        max(case when next_change_date is null then balance_after end) as balance,
        max(case when closes_invoice then change_date end) as last_closing_date
    from {{ ref('int_invoice_balance_changes') }}
    group by invoice_id

),

rates as (

    select * from {{ ref('int_fx_rates_daily') }}

),

open_disputes as (

    select distinct document_id
    from {{ ref('stg_landing__disputes') }}
    where {{ dispute_open_on(as_of) }}

),

measured as (

    select
        invoices.*,
        settled.paid_amount,
        settled.credited_amount,
        settled.written_off_amount,
        case when balances.balance > 0 then balances.balance else 0 end as open_amount,
        case when balances.balance <= 0 then balances.last_closing_date end as closed_date,
        {{ aging_days('invoices.' ~ basis, as_of) }} as aging_days,
        invoice_rates.rate_to_reporting as fx_rate_invoice_date,
        as_of_rates.rate_to_reporting as fx_rate_as_of,
        open_disputes.document_id is not null as is_disputed
    from invoices
    inner join settled
        on settled.invoice_id = invoices.invoice_id
    inner join balances
        on balances.invoice_id = invoices.invoice_id
    left join rates as invoice_rates
        on invoice_rates.currency = invoices.currency
        and invoice_rates.rate_date = invoices.invoice_date
    left join rates as as_of_rates
        on as_of_rates.currency = invoices.currency
        and as_of_rates.rate_date = {{ as_of }}
    left join open_disputes
        on open_disputes.document_id = invoices.invoice_id

),

final as (

    select
        invoice_id,
        customer_id,
        document_type,
        currency,
        invoice_date,
        due_date,
        due_date_is_imputed,
        {{ to_money('amount') }} as amount,
        {{ to_money('tax_amount') }} as tax_amount,
        {{ to_money('paid_amount') }} as paid_amount,
        {{ to_money('credited_amount') }} as credited_amount,
        {{ to_money('written_off_amount') }} as written_off_amount,
        {{ to_money('open_amount') }} as open_amount,
        fx_rate_invoice_date,
        {{ to_reporting('amount', 'fx_rate_invoice_date') }} as amount_reporting,
        fx_rate_as_of,
        {{ to_reporting('open_amount', 'fx_rate_as_of') }} as open_amount_reporting,
        is_disputed,
        closed_date,
        {{ dbt.cast(dbt.datediff('invoice_date', 'closed_date', 'day'), api.Column.translate_type('integer')) }} as days_to_pay,
        {{ dbt.cast(
            "case when open_amount = 0 then null when " ~ dbt.datediff('due_date', as_of, 'day') ~ " > 0 then "
            ~ dbt.datediff('due_date', as_of, 'day') ~ " else 0 end",
            api.Column.translate_type('integer')) }} as days_past_due,
        {{ dbt.cast('aging_days', api.Column.translate_type('integer')) }} as aging_days,
        case when open_amount = 0 then 'closed' else {{ aging_bucket_case('aging_days', var('aging_buckets'), 'label') }} end as aging_bucket,
        {{ dbt.cast(
            "case when open_amount = 0 then null else " ~ aging_bucket_case('aging_days', var('aging_buckets'), 'order') ~ " end",
            api.Column.translate_type('integer')) }} as aging_bucket_order,
        {{ to_money('external_open_amount') }} as external_open_amount,
        {{ as_of }} as as_of_date
    from measured

)

select * from final
