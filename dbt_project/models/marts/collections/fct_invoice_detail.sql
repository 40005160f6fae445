{#- The collector's view of one invoice as of as_of_date: the invoice and its balance, the
    customer with owner, collector and billing contact, how it was paid and credited, its
    disputes, its latest promise to pay and the latest note or activity on it. Only workflow
    records dated on or before as_of are shown. -#}
{%- set as_of = as_of_date() -%}

with

invoices as (

    select * from {{ ref('fct_ar_invoices') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

disputes as (

    select
        document_id,
        dispute_id,
        opened_at,
        reason,
        case when {{ dispute_resolved_by(as_of) }} then resolution end as resolution,
        not{{ dispute_resolved_by(as_of) }} as is_open,
        row_number() over (
            partition by document_id order by opened_at desc, dispute_id desc
        ) as recency
    from {{ ref('stg_landing__disputes') }}
    where {{ dispute_raised_by(as_of) }}
),

dispute_summary as (

    select
        document_id,
        count(*) as dispute_count,
        cast(sum(case when is_open then 1 else 0 end) as bigint) as open_dispute_count,
        max(case when recency = 1 then reason end) as latest_dispute_reason,
        max(case when recency = 1 then case when is_open then 'open' else 'resolved' end end)
            as latest_dispute_status,
        max(case when recency = 1 then resolution end) as latest_dispute_resolution
    from disputes
    group by 1

),

latest_promises as (

    select
        document_id,
        promised_date,
        promised_amount,
        outcome,
        row_number() over (
            partition by document_id order by created_date desc, promise_id desc
        ) as recency
    from {{ ref('int_promise_outcomes') }}
    where document_id is not null

),

latest_activities as (

    select
        document_id,
        activity_date,
        kind,
        text,
        author,
        row_number() over (
            partition by document_id order by activity_date desc, activity_id desc
        ) as recency
    from {{ ref('stg_landing__activities') }}
    where document_id is not null
        and activity_date <= {{ as_of }}
),

final as (

    select
        invoices.invoice_id,
        invoices.document_type,
        invoices.customer_id,
        customers.name as customer_name,
        customers.segment,
        customers.region,
        customers.owner,
        customers.collector,
        customers.billing_contact_name,
        customers.billing_contact_email,
        invoices.invoice_date,
        invoices.due_date,
        invoices.due_date_is_imputed,
        invoices.currency,
        invoices.amount,
        invoices.tax_amount,
        invoices.paid_amount,
        invoices.credited_amount,
        invoices.written_off_amount,
        invoices.open_amount,
        '{{ var("reporting_currency") }}' as reporting_currency,
        invoices.open_amount_reporting,
        invoices.days_past_due,
        invoices.aging_bucket,
        invoices.closed_date,
        invoices.is_disputed,
        coalesce(payment_summary.payment_count, 0) as payment_count,
        payment_summary.first_payment_date,
        payment_summary.last_payment_date,
        coalesce(payment_summary.has_partial_payment, false) as has_partial_payment,
        coalesce(payment_summary.credit_memo_count, 0) as credit_memo_count,
        coalesce(dispute_summary.dispute_count, 0) as dispute_count,
        coalesce(dispute_summary.open_dispute_count, 0) as open_dispute_count,
        dispute_summary.latest_dispute_reason,
        dispute_summary.latest_dispute_status,
        dispute_summary.latest_dispute_resolution,
        latest_promises.promised_date as latest_promised_date,
        latest_promises.promised_amount as latest_promised_amount,
        latest_promises.outcome as latest_promise_outcome,
        latest_activities.activity_date as last_activity_date,
        latest_activities.kind as last_activity_kind,
        latest_activities.text as last_activity_text,
        latest_activities.author as last_activity_author,
        invoices.as_of_date
    from invoices
    left join customers
        on invoices.customer_id = customers.customer_id
    left join {{ ref('int_invoice_payment_summary') }} as payment_summary
        on invoices.invoice_id = payment_summary.invoice_id
    left join dispute_summary
        on invoices.invoice_id = dispute_summary.document_id
    left join latest_promises
        on invoices.invoice_id = latest_promises.document_id
        and latest_promises.recency = 1
    left join latest_activities
        on invoices.invoice_id = latest_activities.document_id
        and latest_activities.recency = 1

)

select * from final
