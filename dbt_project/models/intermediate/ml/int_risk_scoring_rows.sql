{{ config(materialized='table') }}

{#- The invoices to score today: every invoice and debit memo open at the end of as_of_date,
    with its features as of that day (the snapshot rows of as_of_date), already aged. No
    outcome columns. -#}
{%- set as_of = as_of_date() -%}

with

features as (

    select * from {{ ref('int_risk_invoice_features') }}
    where row_kind = 'snapshot'
        and scoring_date = {{ as_of }}
),

final as (

    select
        features.*,
        {{ as_of }} as as_of_date
    from features

)

select * from final
