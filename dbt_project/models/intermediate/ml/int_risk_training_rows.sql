{{ config(materialized='view') }}

{#- Training and backtest rows: every feature row of int_risk_invoice_features (issue rows as of
    each invoice's date, snapshot rows as of each snapshot day) with what happened to the
    invoice as known on as_of_date. The outcome columns are raw dates; which label a model may
    use at a backtest origin (only outcomes known by then) is decided in models/ (labels.py):
    - settled_date: the day the invoice stopped being owed other than by a write-off: its
      closing day, or for a short-paid invoice whose small residue was written off, the last
      day cash or credit was applied; null while open or when written off;
    - written_off_date: the day write-offs reached risk_write_off_min_share of the amount;
    - is_open_at_as_of: still owed on as_of_date. -#}
{%- set as_of = as_of_date() -%}

with

features as (

    select * from {{ ref('int_risk_invoice_features') }}

),

outcomes as (

    select
        invoices.invoice_id,
        invoices.open_amount > 0 as is_open_at_as_of,
        case
            when risk_outcomes.written_off_date is not null or invoices.closed_date is null then null
            when invoices.written_off_amount > 0 and risk_outcomes.last_settlement_date < invoices.closed_date
                then risk_outcomes.last_settlement_date
            else invoices.closed_date
        end as settled_date,
        risk_outcomes.written_off_date
    from {{ ref('fct_ar_invoices') }} as invoices
    inner join {{ ref('int_risk_invoice_outcomes') }} as risk_outcomes
        on invoices.invoice_id = risk_outcomes.invoice_id

),

final as (

    select
        features.*,
        outcomes.is_open_at_as_of,
        outcomes.settled_date,
        outcomes.written_off_date,
        {{ as_of }} as as_of_date
    from features
    inner join outcomes
        on features.invoice_id = outcomes.invoice_id

)

select * from final
