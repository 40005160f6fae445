{{ config(materialized='table') }}

{#- The (invoice, scoring day) pairs risk features are computed for, with the invoice's own
    balance at the end of that day:
    - 'issue' rows: every invoice and debit memo issued in the last risk_history_days, as of its
      own invoice date (what was known when it was billed; the backtest and the IBM protocol
      score these);
    - 'snapshot' rows: every invoice open at the end of a snapshot day (int_risk_scoring_dates),
      as of that day, already aged. Today's scoring rows are the snapshot rows of as_of_date.
    Training on snapshot rows too is what keeps days-to-pay honest for aged invoices: the model
    learns the remaining days from the scoring day of invoices that were still open at that age,
    so it never predicts a pay date before the scoring day.
    history_date is the last day whose events the customer-history features may use: the end of
    the scoring day for a snapshot, the day before the invoice date for an issue row (so the
    invoice's own issue and anything else on its first day, such as a same-day payment, stay
    out of the history it is scored on).
    Training rows are bounded: when more than risk_training_invoices (250,000) invoices were
    issued in the last risk_history_days (600), only a deterministic sample of them (a stable
    hash of the invoice id) gets issue and past snapshot rows; today's scoring rows are always
    every open invoice. The customer history of a sampled invoice is still its customer's whole
    history: the sample bounds how many rows are built and trained on, not what they know.
    The balance of an invoice at the end of day D is balance_after of its last change on or
    before D (int_invoice_balance_changes); the first change is on the invoice date, because
    earlier-dated applications take effect on it. -#}
{%- set as_of = as_of_date() -%}
{%- set history = var('risk_history_days') | int -%}
{%- set sample_invoices = var('risk_training_invoices') | int -%}
{%- set buckets = 1000000 -%}

with

invoices as (

    select invoice_id, customer_id, invoice_date
    from {{ ref('int_invoices') }}

),

sample_share as (

    select
        case
            when count(*) <= {{ sample_invoices }} then {{ buckets }}
            else {{ divide(sample_invoices * buckets, 'count(*)') }}
        end as bucket_limit
    from invoices
    where invoice_date >= {{ add_days(as_of, -history) }}
),

sampled_invoices as (

    select invoices.*
    from invoices
    cross join sample_share
    where {{ stable_bucket('invoices.invoice_id', buckets) }} < sample_share.bucket_limit

),

balance_changes as (

    select * from {{ ref('int_invoice_balance_changes') }}

),

scoring_dates as (

    select * from {{ ref('int_risk_scoring_dates') }}

),

issue_requests as (

    select
        invoices.invoice_id,
        invoices.customer_id,
        invoices.invoice_date as scoring_date,
        'issue' as row_kind,
        {{ add_days('invoices.invoice_date', -1) }} as history_date,
        balance_changes.balance_after as own_balance_at_scoring
    from sampled_invoices as invoices
    inner join balance_changes
        on invoices.invoice_id = balance_changes.invoice_id
        and invoices.invoice_date = balance_changes.change_date
    where invoices.invoice_date >= {{ add_days(as_of, -history) }}
),

open_periods as (

    select
        invoice_id,
        change_date,
        next_change_date,
        balance_after
    from balance_changes
    where balance_after > 0

),

snapshot_requests as (

    select
        invoices.invoice_id,
        invoices.customer_id,
        scoring_dates.scoring_date,
        'snapshot' as row_kind,
        scoring_dates.scoring_date as history_date,
        open_periods.balance_after as own_balance_at_scoring
    from open_periods
    inner join scoring_dates
        on open_periods.change_date <= scoring_dates.scoring_date
        and (open_periods.next_change_date is null
            or open_periods.next_change_date > scoring_dates.scoring_date)
    inner join invoices
        on open_periods.invoice_id = invoices.invoice_id
    left join sampled_invoices
        on open_periods.invoice_id = sampled_invoices.invoice_id
    where scoring_dates.scoring_date = {{ as_of }}
        or sampled_invoices.invoice_id is not null

),

final as (

    select * from issue_requests
    union all
    select * from snapshot_requests

)

select * from final
