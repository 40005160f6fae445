{{ config(materialized='view') }}

{#- The days risk features are computed as of (the snapshot grid): as_of_date and every
    risk_snapshot_step_days (28) before it, back risk_history_days (600), never before the first
    invoice. Anchored on as_of_date so today's scoring rows and the training snapshots are the
    same kind of row, and the backtest origins (multiples of the step before as_of) are
    snapshot days too. -#}
{%- set as_of = as_of_date() -%}
{%- set step = var('risk_snapshot_step_days') | int -%}
{%- set history = var('risk_history_days') | int -%}
{%- if step < 1 or history < 0 -%}
    {{ exceptions.raise_compiler_error("inflow: risk_snapshot_step_days must be >= 1 and risk_history_days >= 0") }}
{%- endif %}

with

offsets as (

    {{ dbt.generate_series((history // step) + 1) }}
),

first_invoice as (

    select min(invoice_date) as first_invoice_date
    from {{ ref('int_invoices') }}

),

final as (

    select {{ add_days(as_of, '-(generated_number - 1) * ' ~ step) }} as scoring_date
    from offsets
    cross join first_invoice
    where {{ add_days(as_of, '-(generated_number - 1) * ' ~ step) }} >= first_invoice.first_invoice_date

)

select * from final
