{#- One row per dispute opened on or before as_of_date, with its state that day (DECISIONS.md P7):
    open until the day it is resolved (dispute_open_on, the one definition of an open dispute), its
    age in days (as_of minus the opening day while open, resolution day minus opening day once
    resolved), the disputed amount (the dispute's own amount, else the whole document's, said by
    disputed_amount_source) in the document's currency and at the as_of rate, and the document's
    open balance that day. A resolution dated after as_of_date is not known yet: the dispute is
    open and its resolution null. Disputes on documents that are not receivables of the fact layer
    (a credit memo, a quarantined invoice) are kept, without customer or amounts from the document. -#}
{%- set as_of = as_of_date() -%}
{%- set date_type = api.Column.translate_type('date') -%}

with

disputes as (

    select
        dispute_id,
        document_id,
        {{ dbt.cast('opened_at', date_type) }} as opened_date,
        case when {{ dispute_resolved_by(as_of) }} then {{ dbt.cast('resolved_at', date_type) }} end
            as resolved_date,
        {{ dispute_open_on(as_of) }} as is_open,
        amount,
        reason,
        case when {{ dispute_resolved_by(as_of) }} then resolution end as resolution
    from {{ ref('stg_landing__disputes') }}
    where {{ dispute_raised_by(as_of) }}
),

invoices as (

    select invoice_id, customer_id, currency, amount, open_amount, fx_rate_as_of
    from {{ ref('fct_ar_invoices') }}

),

final as (

    select
        disputes.dispute_id,
        disputes.document_id,
        invoices.customer_id,
        case when disputes.is_open then 'open' else 'resolved' end as status,
        disputes.is_open,
        disputes.opened_date,
        disputes.resolved_date,
        {{ dbt.cast(
            dbt.datediff('disputes.opened_date', 'coalesce(disputes.resolved_date, ' ~ as_of ~ ')', 'day'),
            api.Column.translate_type('integer')) }} as days_open,
        disputes.reason,
        disputes.resolution,
        invoices.currency,
        {{ to_money('coalesce(disputes.amount, invoices.amount)') }} as disputed_amount,
        case
            when disputes.amount is not null then 'dispute'
            when invoices.amount is not null then 'document'
        end as disputed_amount_source,
        '{{ var("reporting_currency") }}' as reporting_currency,
        {{ to_reporting('coalesce(disputes.amount, invoices.amount)', 'invoices.fx_rate_as_of') }}
            as disputed_amount_reporting,
        invoices.open_amount as document_open_amount,
        {{ as_of }} as as_of_date
    from disputes
    left join invoices
        on disputes.document_id = invoices.invoice_id

)

select * from final
