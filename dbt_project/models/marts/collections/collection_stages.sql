{#- The collection stage of every invoice and customer on as_of_date (DECISIONS.md C3-C4), read
    off collection_stage_history (the latest change on or before as_of_date):
    - one row per open invoice that has reached a stage (invoice_id set), with the day it got
      there, how (schedule or workflow), its days past due, whether a dispute is open on it, and
      the next stage on the schedule with its day;
    - one row per customer that has ever had a stage (invoice_id null): the highest stage among
      its open invoices, or 'current' once none has one, so the ERP hears when it comes down.
    The outbox sends stage (invoice.collection_stage / customer.collection_stage); the outreach
    drafts take their tone from it. -#}
{%- set as_of = as_of_date() -%}
{%- set levels = collection_stage_levels(var('collection_stages')) -%}
{%- set integer_type = api.Column.translate_type('integer') -%}

with

levels as (

    {{ collection_stage_rows(levels) }}

),

latest as (

    select *
    from {{ ref('collection_stage_history') }}
    where valid_until is null

),

invoices as (

    select invoice_id, customer_id, currency, due_date, open_amount, days_past_due, is_disputed
    from {{ ref('fct_ar_invoices') }}
    where open_amount > 0

),

invoice_stages as (

    select
        'invoice' as entity_type,
        latest.invoice_id,
        latest.customer_id,
        latest.stage,
        latest.stage_level,
        latest.changed_on as stage_since,
        latest.stage_source,
        invoices.currency,
        invoices.open_amount,
        invoices.days_past_due,
        invoices.is_disputed as has_open_dispute,
        next_levels.stage as next_stage,
        {{ add_days('invoices.due_date', 'next_levels.days_past_due') }} as next_stage_scheduled_on
    from latest
    inner join invoices
        on latest.invoice_id = invoices.invoice_id
    left join levels as next_levels
        on latest.stage_level + 1 = next_levels.stage_level
    where latest.entity_type = 'invoice'
        and latest.stage_level > 0

),

customer_stages as (

    select
        'customer' as entity_type,
        {{ dbt.cast('null', api.Column.translate_type('string')) }} as invoice_id,
        customer_id,
        stage,
        stage_level,
        changed_on as stage_since,
        stage_source,
        {{ dbt.cast('null', api.Column.translate_type('string')) }} as currency,
        {{ dbt.cast('null', 'decimal(18,2)') }} as open_amount,
        {{ dbt.cast('null', integer_type) }} as days_past_due,
        {{ dbt.cast('null', api.Column.translate_type('boolean')) }} as has_open_dispute,
        {{ dbt.cast('null', api.Column.translate_type('string')) }} as next_stage,
        {{ dbt.cast('null', api.Column.translate_type('date')) }} as next_stage_scheduled_on
    from latest
    where entity_type = 'customer'

),

stages as (

    select * from invoice_stages
    union all
    select * from customer_stages

),

final as (

    select
        entity_type,
        invoice_id,
        customer_id,
        stage,
        stage_level,
        stage_since,
        {{ dbt.cast(dbt.datediff('stage_since', as_of, 'day'), integer_type) }} as days_in_stage,
        stage_source,
        currency,
        {{ to_money('open_amount') }} as open_amount,
        days_past_due,
        has_open_dispute,
        next_stage,
        next_stage_scheduled_on,
        {{ as_of }} as as_of_date
    from stages

)

select * from final
