{{ config(materialized='view') }}

{#- Everything that moves a customer's payment-risk state, one row per customer and day with
    what that day added. Each event is dated the day it became known, so summing a customer's
    rows up to day D (int_risk_customer_state) gives its state as known at the end of D and
    nothing later:
    - issue (invoice date): invoices billed, their reporting amount (invoice-date rate) and terms;
    - balance change (its date): open balance (reporting, invoice-date rate) and open invoices;
    - the same changes moved to the first day past due (max(change date, due date + 1)):
      overdue balance and overdue invoices (an invoice is overdue from the day after its due
      date while its balance is open);
    - paid invoice (first closing day, int_risk_invoice_outcomes): paid, late (more than
      risk_grace_days after due), severely late (more than risk_severe_days), partially paid,
      days beyond terms, last late payment day;
    - write-off (the day it reached risk_write_off_min_share of the amount);
    - dispute (day opened); broken promise (a judged promise not kept: broken or partially kept,
      P5; the day after its evaluation date, the first day int_promise_outcomes judges it; with
      the promised date); collector touch (any
      activity but a stage change).
    Sums are doubles: they feed running totals (int_risk_customer_state), where DuckDB's
    128-bit integer and decimal sums took twice as long, and features, not money. -#}
{%- set grace_days = var('risk_grace_days') | int -%}
{%- set severe_days = var('risk_severe_days') | int -%}
{%- set date_type = api.Column.translate_type('date') -%}

with

invoices as (

    select
        invoice_id,
        customer_id,
        invoice_date,
        due_date,
        amount_reporting,
        fx_rate_invoice_date
    from {{ ref('fct_ar_invoices') }}

),

outcomes as (

    select * from {{ ref('int_risk_invoice_outcomes') }}

),

changes as (

    select
        invoices.customer_id,
        balance_changes.change_date,
        {{ add_days('invoices.due_date', 1) }} as first_overdue_date,
        balance_changes.change_amount * invoices.fx_rate_invoice_date as change_reporting,
        (case when balance_changes.balance_after > 0 then 1 else 0 end)
            - (case when balance_changes.balance_after - balance_changes.change_amount > 0 then 1 else 0 end)
            as open_count_change
    from {{ ref('int_invoice_balance_changes') }} as balance_changes
    inner join invoices
        on invoices.invoice_id = balance_changes.invoice_id

),

ledger as (

    select
        customer_id,
        invoice_date as event_date,
        1 as issued_count,
        amount_reporting as issued_amount_reporting,
        {{ dbt.datediff('invoice_date', 'due_date', 'day') }} as issued_terms_days,
        0 as open_balance_change_reporting,
        0 as open_count_change,
        0 as overdue_balance_change_reporting,
        0 as overdue_count_change,
        0 as paid_count,
        0 as late_count,
        0 as severe_late_count,
        0 as partial_count,
        0 as days_beyond_terms_sum,
        0 as days_late_sum,
        {{ dbt.cast('null', date_type) }} as last_late_paid_date,
        0 as written_off_count,
        0 as dispute_count,
        0 as broken_promise_count,
        {{ dbt.cast('null', date_type) }} as last_broken_promised_date,
        {{ dbt.cast('null', date_type) }} as last_touch_date
    from invoices

    union all

    select
        customer_id, change_date,
        0, 0, 0,
        change_reporting, open_count_change,
        0, 0,
        0, 0, 0, 0, 0, 0, null,
        0, 0, 0, null, null
    from changes

    union all

    select
        customer_id,
        case when change_date > first_overdue_date then change_date else first_overdue_date end,
        0, 0, 0,
        0, 0,
        change_reporting, open_count_change,
        0, 0, 0, 0, 0, 0, null,
        0, 0, 0, null, null
    from changes

    union all

    select
        customer_id, first_closed_date,
        0, 0, 0,
        0, 0,
        0, 0,
        1,
        case when days_late_at_close > {{ grace_days }} then 1 else 0 end,
        case when days_late_at_close > {{ severe_days }} then 1 else 0 end,
        case when partial_before_close then 1 else 0 end,
        case when days_late_at_close > 0 then days_late_at_close else 0 end,
        days_late_at_close,
        case when days_late_at_close > {{ grace_days }} then first_closed_date end,
        0, 0, 0, null, null
    from outcomes
    where closed_as_paid

    union all

    select
        customer_id, written_off_date,
        0, 0, 0,
        0, 0,
        0, 0,
        0, 0, 0, 0, 0, 0, null,
        1, 0, 0, null, null
    from outcomes
    where written_off_date is not null

    union all

    select
        invoices.customer_id, {{ dbt.cast('disputes.opened_at', date_type) }},
        0, 0, 0,
        0, 0,
        0, 0,
        0, 0, 0, 0, 0, 0, null,
        0, 1, 0, null, null
    from {{ ref('stg_landing__disputes') }} as disputes
    inner join invoices
        on invoices.invoice_id = disputes.document_id

    union all

    select
        customer_id, {{ add_days('evaluation_date', 1) }},
        0, 0, 0,
        0, 0,
        0, 0,
        0, 0, 0, 0, 0, 0, null,
        0, 0, 1, promised_date, null
    from {{ ref('int_promise_outcomes') }}
    where is_judged and not is_kept

    union all

    -- the touch date of an activity is its date, hence activity_date twice
    select
        customer_id, activity_date,
        0, 0, 0,
        0, 0,
        0, 0,
        0, 0, 0, 0, 0, 0, null,
        0, 0, 0, null, activity_date  -- noqa: AL08
    from {{ ref('stg_landing__activities') }}
    where kind is null or kind <> 'stage_change'

),

final as (

    select
        customer_id,
        event_date,
        {%- for column in risk_state_sums() %}
        sum({{ to_double(column) }}) as {{ column }},
        {%- endfor %}
        {%- for column in risk_state_latest() %}
        max({{ column }}) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from ledger
    where customer_id is not null
    group by customer_id, event_date

)

select * from final
