{#- Collection stage history as of as_of_date (DECISIONS.md C3): one row per invoice or customer
    and day its stage changed, from int_collection_stage_entries, so the stage of any entity on any
    day D <= as_of_date is that of its latest row on or before D (none: 'current').
    - invoice rows: the highest level entered that day (stage_source 'schedule' or 'workflow'),
      and 'closed' (level 0) on the day a staged invoice closed;
    - customer rows: the highest stage among the customer's open invoices, whenever it changes,
      back to 'current' (level 0) when no open invoice has a stage (stage_source 'invoices').
    Customers are computed from per-level counts of open staged invoices (+1 on entering a level,
    -1 on closing), a running sum per level: no pairing of every invoice with every day.
    valid_until is the day of the entity's next change (exclusive), null while still in effect. -#}
{%- set levels = collection_stage_levels(var('collection_stages')) -%}
{%- set date_type = api.Column.translate_type('date') -%}

with

entries as (

    select * from {{ ref('int_collection_stage_entries') }}

),

invoice_changes as (

    select
        invoice_id,
        customer_id,
        entered_on as changed_on,
        max(stage_level) as stage_level,
        max(case when entry_source = 'workflow' then stage_level else 0 end) as workflow_level
    from entries
    group by 1, 2, 3

),

invoice_rows as (

    select
        'invoice' as entity_type,
        invoice_id as entity_id,
        invoice_id,
        customer_id,
        changed_on,
        stage_level,
        case when workflow_level = stage_level then 'workflow' else 'schedule' end as stage_source
    from invoice_changes

    union all

    select distinct
        'invoice' as entity_type,
        invoice_id as entity_id,
        invoice_id,
        customer_id,
        closed_date as changed_on,
        0 as stage_level,
        'closed' as stage_source
    from entries
    where closed_date is not null

),

level_moves as (

    select customer_id, entered_on as moved_on, stage_level, 1 as delta
    from entries

    union all

    select customer_id, closed_date as moved_on, stage_level, -1 as delta
    from entries
    where closed_date is not null

),

customer_days as (

    select
        customer_id,
        moved_on,
        {%- for l in levels %}
        sum(case when stage_level = {{ l.level }} then delta else 0 end) as delta_{{ l.level }}{{ ',' if not loop.last }}
        {%- endfor %}
    from level_moves
    group by 1, 2

),

customer_counts as (

    select
        customer_id,
        moved_on,
        {%- for l in levels %}
        sum(delta_{{ l.level }}) over (
            partition by customer_id order by moved_on rows between unbounded preceding and current row
        ) as open_at_{{ l.level }}{{ ',' if not loop.last }}
        {%- endfor %}
    from customer_days

),

customer_levels as (

    select
        customer_id,
        moved_on,
        case
        {%- for l in levels | reverse %}
            when open_at_{{ l.level }} > 0 then {{ l.level }}
        {%- endfor %}
            else 0
        end as stage_level
    from customer_counts

),

customer_rows as (

    select
        'customer' as entity_type,
        customer_id as entity_id,
        {{ dbt.cast('null', api.Column.translate_type('string')) }} as invoice_id,
        customer_id,
        moved_on as changed_on,
        stage_level,
        'invoices' as stage_source
    from (
        select
            customer_levels.*,
            lag(stage_level) over (partition by customer_id order by moved_on) as previous_level
        from customer_levels
    ) as sequenced
    where stage_level <> coalesce(previous_level, 0)

),

changes as (

    select * from invoice_rows
    union all
    select * from customer_rows

),

final as (

    select
        entity_type,
        entity_id,
        invoice_id,
        customer_id,
        changed_on,
        stage_level,
        case
            when entity_type = 'invoice' and stage_source = 'closed' then 'closed'
            else {{ collection_stage_name('stage_level', levels) }}
        end as stage,
        stage_source,
        lead(changed_on) over (partition by entity_type, entity_id order by changed_on) as valid_until
    from changes

)

select * from final
