{#- Each customer's place in the account hierarchy, walked upwards so a rollup can never loop.
    The parent is the CRM parent account's customer (CRM is the context system for account
    hierarchy), else the ERP's own parent. The walk stops at a customer without a (known)
    parent, after var('hierarchy_max_depth') steps (hierarchy_is_truncated), or when it reaches
    a customer already on its path (a cycle). A customer whose chain runs into a cycle rolls up
    to itself with depth 0 and hierarchy_has_cycle = true, so every customer has exactly one
    ultimate parent and cyclic data is flagged for its owner instead of double counted. -#}
{%- set max_depth = var('hierarchy_max_depth') | int -%}

with recursive

customers as (

    select customer_id, erp_parent_id
    from {{ ref('int_customers') }}

),

crm_parents as (

    select
        accounts.customer_id,
        min(parents.customer_id) as parent_customer_id
    from {{ ref('stg_landing__crm_accounts') }} as accounts
    inner join {{ ref('stg_landing__crm_accounts') }} as parents
        on accounts.parent_account_id = parents.account_id
    group by accounts.customer_id

),

edges as (

    select
        customers.customer_id,
        coalesce(crm_parents.parent_customer_id, customers.erp_parent_id) as parent_customer_id
    from customers
    left join crm_parents
        on customers.customer_id = crm_parents.customer_id

),

walk as (

    select
        customer_id as start_customer_id,
        customer_id as node_customer_id,
        parent_customer_id as next_customer_id,
        0 as depth,
        {{ dbt.concat(["'|'", 'customer_id', "'|'"]) }} as path,
        false as is_cycle
    from edges

    union all

    select
        walk.start_customer_id,
        edges.customer_id,
        edges.parent_customer_id,
        walk.depth + 1 as depth,
        {{ dbt.concat(['walk.path', 'edges.customer_id', "'|'"]) }} as path,
        {{ dbt.position(dbt.concat(["'|'", 'edges.customer_id', "'|'"]), 'walk.path') }} > 0 as is_cycle
    from walk
    inner join edges
        on walk.next_customer_id = edges.customer_id
    where not walk.is_cycle
        and walk.depth < {{ max_depth }}

),

summarized as (

    select
        start_customer_id as customer_id,
        {{ dbt.bool_or('is_cycle') }} as has_cycle,
        max(case when not is_cycle then depth end) as top_depth
    from walk
    group by start_customer_id

),

tops as (

    select
        walk.start_customer_id as customer_id,
        walk.node_customer_id as top_customer_id,
        walk.next_customer_id as top_next_customer_id
    from walk
    inner join summarized
        on walk.start_customer_id = summarized.customer_id
        and walk.depth = summarized.top_depth
        and not walk.is_cycle

),

final as (

    select
        edges.customer_id,
        edges.parent_customer_id,
        case when summarized.has_cycle then edges.customer_id else tops.top_customer_id end as ultimate_parent_customer_id,
        case when summarized.has_cycle then 0 else summarized.top_depth end as hierarchy_depth,
        summarized.has_cycle as hierarchy_has_cycle,
        not summarized.has_cycle
            and summarized.top_depth = {{ max_depth }}
            and tops.top_next_customer_id in (select customers.customer_id from customers) as hierarchy_is_truncated
    from edges
    inner join summarized
        on edges.customer_id = summarized.customer_id
    inner join tops
        on edges.customer_id = tops.customer_id

)

select * from final
