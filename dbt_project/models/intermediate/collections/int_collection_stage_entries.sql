{#- The day each invoice (or debit memo) entered each collection stage, on or before as_of_date
    while it was open (DECISIONS.md C1-C2): one row per invoice and level reached.
    - scheduled: due date + the level's days_past_due (var collection_stages);
    - workflow: the first stage_change activity on or after the invoice date that names the level
      or a higher one (its text holds one of the level's activity_keywords); an activity on the
      invoice, or one on its customer without a document, which reaches every invoice of that
      customer open on its day;
    - entered_on = the earlier of the two; entry_source says which ('workflow' when the activity
      came on or before the scheduled day: the workflow recorded it). Nothing dated after
      as_of_date counts, and a level reached on or after the day the invoice closed is not reached
      at all.
    Levels nest: entered_on never falls as the level rises (the days grow with the level, and an
    activity naming a level counts for every level below it), so an invoice's stage only rises while
    it is open. -#}
{%- set as_of = as_of_date() -%}
{%- set levels = collection_stage_levels(var('collection_stages')) -%}

with

levels as (

    {{ collection_stage_rows(levels) }}

),

invoices as (

    select invoice_id, customer_id, invoice_date, due_date, closed_date
    from {{ ref('fct_ar_invoices') }}

),

named as (

    select
        customer_id,
        document_id,
        activity_date,
        {{ collection_stage_named_in('text', levels) }} as named_level
    from {{ ref('stg_landing__activities') }}
    where kind = 'stage_change'
        and activity_date <= {{ as_of }}
),

invoice_activities as (

    select
        invoices.invoice_id,
        named.activity_date,
        named.named_level
    from named
    inner join invoices
        on named.document_id = invoices.invoice_id
    where named.named_level is not null

    union all

    select
        invoices.invoice_id,
        named.activity_date,
        named.named_level
    from named
    inner join invoices
        on named.customer_id = invoices.customer_id
    where named.document_id is null
        and named.named_level is not null

),

workflow_entries as (

    select
        invoice_activities.invoice_id,
        levels.stage_level,
        min(invoice_activities.activity_date) as named_on
    from invoice_activities
    inner join invoices
        on invoice_activities.invoice_id = invoices.invoice_id
    inner join levels
        on invoice_activities.named_level >= levels.stage_level
    where invoice_activities.activity_date >= invoices.invoice_date
        and (invoices.closed_date is null or invoice_activities.activity_date < invoices.closed_date)
    group by 1, 2

),

reached as (

    -- by the schedule: due date + the level's days, by as_of and before the invoice closed
    select
        invoices.invoice_id,
        levels.stage_level,
        {{ add_days('invoices.due_date', 'levels.days_past_due') }} as reached_on,
        'schedule' as reached_by
    from invoices
    inner join levels
        on {{ add_days('invoices.due_date', 'levels.days_past_due') }} <= {{ as_of }}
    where invoices.closed_date is null
        or {{ add_days('invoices.due_date', 'levels.days_past_due') }} < invoices.closed_date

    union all

    select
        invoice_id,
        stage_level,
        named_on as reached_on,
        'workflow' as reached_by
    from workflow_entries

),

entered as (

    select
        invoice_id,
        stage_level,
        min(case when reached_by = 'schedule' then reached_on end) as scheduled_reach,
        min(case when reached_by = 'workflow' then reached_on end) as named_on
    from reached
    group by 1, 2

),

final as (

    select
        entered.invoice_id,
        invoices.customer_id,
        entered.stage_level,
        levels.stage,
        case
            when entered.scheduled_reach is null or entered.named_on <= entered.scheduled_reach
                then entered.named_on
            else entered.scheduled_reach
        end as entered_on,
        case
            when entered.scheduled_reach is null or entered.named_on <= entered.scheduled_reach
                then 'workflow'
            else 'schedule'
        end as entry_source,
        {{ add_days('invoices.due_date', 'levels.days_past_due') }} as scheduled_on,
        invoices.closed_date
    from entered
    inner join invoices
        on entered.invoice_id = invoices.invoice_id
    inner join levels
        on entered.stage_level = levels.stage_level

)

select * from final
