{#- One row per invoice and debit memo issued on or before as_of_date: what the cash forecast
    and its backtest need to know about a document independently of the day they look from.
    Point-in-time use is the reader's job: an invoice exists from invoice_date; its dispute is
    open on day D when dispute_opened_date <= D and (dispute_resolved_date is null or > D).
    Several disputes on one document are merged into one span (first opening to last
    resolution; open as long as any is unresolved as of as_of_date). segment comes from the CRM
    ('unknown' without one): the timing model shrinks thin customer histories toward it. -#}
{%- set as_of = as_of_date() -%}

with

invoices as (

    select * from {{ ref('int_invoices') }}

),

customers as (

    select customer_id, segment from {{ ref('dim_customers') }}

),

disputes as (

    select
        document_id,
        {{ dbt.cast('opened_at', api.Column.translate_type('date')) }} as opened_date,
        case
            when resolved_at is not null
                and {{ dbt.cast('resolved_at', api.Column.translate_type('date')) }} <= {{ as_of }}
                then {{ dbt.cast('resolved_at', api.Column.translate_type('date')) }}
        end as resolved_date
    from {{ ref('stg_landing__disputes') }}
    where {{ dbt.cast('opened_at', api.Column.translate_type('date')) }} <= {{ as_of }}
),

dispute_spans as (

    select
        document_id,
        min(opened_date) as dispute_opened_date,
        case when count(*) = count(resolved_date) then max(resolved_date) end as dispute_resolved_date
    from disputes
    group by document_id

),

final as (

    select
        invoices.invoice_id,
        invoices.customer_id,
        coalesce(customers.segment, 'unknown') as segment,
        invoices.document_type,
        invoices.currency,
        invoices.invoice_date,
        invoices.due_date,
        {{ to_money('invoices.amount') }} as amount,
        dispute_spans.dispute_opened_date,
        dispute_spans.dispute_resolved_date
    from invoices
    left join customers
        on invoices.customer_id = customers.customer_id
    left join dispute_spans
        on invoices.invoice_id = dispute_spans.document_id

)

select * from final
