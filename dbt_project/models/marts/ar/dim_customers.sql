{#- One row per ERP customer with its CRM context: owner, collector, segment and region from the
    customer's CRM account (the lowest account_id when the CRM maps several accounts to one
    customer), the billing contact (the lowest contact_id with role 'billing') and the
    loop-proof hierarchy of int_customer_hierarchy. -#}

with

customers as (

    select * from {{ ref('int_customers') }}

),

ranked_accounts as (

    select
        *,
        row_number() over (partition by customer_id order by account_id) as account_rank
    from {{ ref('stg_landing__crm_accounts') }}

),

accounts as (

    select * from ranked_accounts
    where account_rank = 1

),

ranked_billing_contacts as (

    select
        account_id,
        name,
        email,
        row_number() over (partition by account_id order by contact_id) as contact_rank
    from {{ ref('stg_landing__crm_contacts') }}
    where role = 'billing'

),

billing_contacts as (

    select * from ranked_billing_contacts
    where contact_rank = 1

),

hierarchy as (

    select * from {{ ref('int_customer_hierarchy') }}

),

final as (

    select
        customers.customer_id,
        customers.name,
        customers.country,
        customers.currency,
        customers.payment_terms,
        {{ to_money('customers.credit_limit') }} as credit_limit,
        accounts.account_id,
        hierarchy.parent_customer_id,
        hierarchy.ultimate_parent_customer_id,
        {{ dbt.cast('hierarchy.hierarchy_depth', api.Column.translate_type('integer')) }} as hierarchy_depth,
        hierarchy.hierarchy_has_cycle,
        hierarchy.hierarchy_is_truncated,
        accounts.owner,
        accounts.collector,
        accounts.segment,
        accounts.region,
        billing_contacts.name as billing_contact_name,
        billing_contacts.email as billing_contact_email
    from customers
    inner join hierarchy
        on customers.customer_id = hierarchy.customer_id
    left join accounts
        on customers.customer_id = accounts.customer_id
    left join billing_contacts
        on accounts.account_id = billing_contacts.account_id

)

select * from final
