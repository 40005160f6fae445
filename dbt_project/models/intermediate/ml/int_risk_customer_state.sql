{{ config(materialized='table') }}

{#- Each customer's payment-risk state at the end of every day a feature row needs it: the
    history_date of every int_risk_feature_requests row, plus as_of_date and as_of_date -
    risk_customer_trend_days (91) for every customer (customer scores and their trend).
    The state on day D is the running total of the customer's int_risk_customer_events up to and
    including D. Computed in two passes per customer, because a running total per column is
    DuckDB's costliest window: the running totals over the customer's event days only
    (`cumulative`, one row per event day, numbered), then for each requested day the number of
    the last event day on or before it (`located`: the event days and the requested days in one
    ordered pass, events first on the same day, counting only events), joined back on that
    number. Nothing dated after the day can reach it. The recent-history statistics come from
    the customer's paid invoice numbered paid_count (int_risk_paid_history), the last one paid
    by then. Money running totals are doubles (speed, int_risk_customer_events) rounded to the
    cent: a double sum depends on the order DuckDB's threads add in, and an unrounded last bit
    moved the gradient-boosting bins, so the same ledger trained a different model. Rounded with
    round_double() (DECISIONS.md S3): a total of 5298.415 is 5298.42 on every engine, where
    round() gave 5298.41 on DuckDB and 5298.42 on Spark. -#}
{%- set as_of = as_of_date() -%}
{%- set trend_days = var('risk_customer_trend_days') | int -%}
{%- set running = "over (partition by customer_id order by event_date rows between unbounded preceding and current row)" -%}
{%- set sums = risk_state_sums() -%}

with

events as (

    select * from {{ ref('int_risk_customer_events') }}

),

customers as (

    select customer_id, min(invoice_date) as first_invoice_date
    from {{ ref('int_invoices') }}
    group by customer_id

),

requested_days as (

    select distinct customer_id, history_date as state_date
    from {{ ref('int_risk_feature_requests') }}

    union

    select customer_id, {{ as_of }}
    from customers

    union

    select customer_id, {{ add_days(as_of, -trend_days) }}
    from customers
    where first_invoice_date <= {{ add_days(as_of, -trend_days) }}
),

cumulative as (

    select
        customer_id,
        row_number() over (partition by customer_id order by event_date) as event_number,
        {%- for column, state_column in sums.items() %}
        sum({{ column }}) {{ running }} as {{ state_column }},
        {%- endfor %}
        {%- for column in risk_state_latest() %}
        max({{ column }}) {{ running }} as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from events

),

interleaved as (

    select customer_id, event_date as state_date, 0 as is_request from events

    union all

    select customer_id, state_date, 1 as is_request from requested_days

),

located as (

    select
        customer_id,
        state_date,
        is_request,
        sum(1 - is_request) over (
            partition by customer_id order by state_date, is_request
            rows between unbounded preceding and current row
        ) as event_number
    from interleaved

),

final as (

    select
        located.customer_id,
        located.state_date,
        case when customers.first_invoice_date <= located.state_date then customers.first_invoice_date end
            as first_invoice_date,
        {%- for state_column in sums.values() %}
        {%- if state_column.endswith('_reporting') %}
        coalesce({{ round_double('cumulative.' ~ state_column, 2) }}, 0) as {{ state_column }},
        {%- else %}
        coalesce(cumulative.{{ state_column }}, 0) as {{ state_column }},
        {%- endif %}
        {%- endfor %}
        {%- for column in risk_state_latest() %}
        cumulative.{{ column }},
        {%- endfor %}
        {%- for column in risk_state_recent() %}
        paid_history.{{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from located
    left join cumulative
        on located.customer_id = cumulative.customer_id
        and located.event_number = cumulative.event_number
    left join customers
        on located.customer_id = customers.customer_id
    left join {{ ref('int_risk_paid_history') }} as paid_history
        on located.customer_id = paid_history.customer_id
        and cumulative.paid_count = paid_history.paid_sequence
    where located.is_request = 1

)

select * from final
