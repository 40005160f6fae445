{{ config(materialized='table') }}

{#- The risk features of every (invoice, scoring day) pair of int_risk_feature_requests, each
    known at the end of its scoring day (the customer history of an issue row ends the day
    before the invoice date):
    - the invoice: type, currency, amount (and in the reporting currency at the invoice-date
      rate), terms, imputed due date, month due (seasonal payment habits), age and days past due on the scoring day, the share still
      open (1 for an issue row: as billed), its size against the customer's usual invoice;
    - the customer: segment, region, country and terms label (today's CRM and ERP values: the
      master data has no history), payment history, exposure and credit-limit use
      (risk_history_features, risk_exposure_features);
    - the invoice's own workflow on the scoring day (snapshot rows; an issue row has none yet):
      disputes opened and one still open, promises not kept (broken or partially kept, P5) and
      one pending (made, and its evaluation day, promised date + promise_grace_days, not passed).
    No outcome column: labels are in int_risk_training_rows only. -#}
{%- set date_type = api.Column.translate_type('date') -%}

with

requests as (

    select * from {{ ref('int_risk_feature_requests') }}

),

invoices as (

    select
        invoice_id,
        document_type,
        currency,
        invoice_date,
        due_date,
        due_date_is_imputed,
        amount,
        amount_reporting,
        coalesce(fx_rate_invoice_date, 0) as fx_rate_invoice_date
    from {{ ref('fct_ar_invoices') }}

),

customers as (

    select
        customer_id,
        segment,
        region,
        country,
        payment_terms,
        currency as customer_currency,
        credit_limit
    from {{ ref('dim_customers') }}

),

snapshot_requests as (

    select invoice_id, scoring_date
    from requests
    where row_kind = 'snapshot'

),

own_disputes as (

    select
        snapshot_requests.invoice_id,
        snapshot_requests.scoring_date,
        count(*) as own_dispute_count,
        max(case
            when disputes.resolved_at is null
                or {{ dbt.cast('disputes.resolved_at', date_type) }} > snapshot_requests.scoring_date then 1
            else 0
        end) as own_dispute_open,
        max({{ dbt.cast('disputes.opened_at', date_type) }}) as own_last_dispute_opened_date
    from snapshot_requests
    inner join {{ ref('stg_landing__disputes') }} as disputes
        on disputes.document_id = snapshot_requests.invoice_id
        and {{ dbt.cast('disputes.opened_at', date_type) }} <= snapshot_requests.scoring_date
    group by snapshot_requests.invoice_id, snapshot_requests.scoring_date

),

own_promises as (

    select
        snapshot_requests.invoice_id,
        snapshot_requests.scoring_date,
        sum(case
            when promises.is_judged and not promises.is_kept
                and promises.evaluation_date < snapshot_requests.scoring_date then 1
            else 0
        end) as own_broken_promise_count,
        max(case
            when promises.evaluation_date >= snapshot_requests.scoring_date then 1
            else 0
        end) as own_promise_pending,
        max(case
            when promises.evaluation_date >= snapshot_requests.scoring_date then promises.promised_date
        end) as own_pending_promised_date
    from snapshot_requests
    inner join {{ ref('int_promise_outcomes') }} as promises
        on promises.document_id = snapshot_requests.invoice_id
        and promises.created_date <= snapshot_requests.scoring_date
    group by snapshot_requests.invoice_id, snapshot_requests.scoring_date

),

joined as (

    select
        requests.invoice_id,
        requests.customer_id,
        requests.scoring_date,
        requests.row_kind,
        requests.history_date,
        case when requests.row_kind = 'snapshot' then 1 else 0 end as own_in_state,
        requests.own_balance_at_scoring,
        invoices.document_type,
        invoices.currency,
        invoices.invoice_date,
        invoices.due_date,
        invoices.due_date_is_imputed,
        invoices.amount,
        invoices.amount_reporting,
        invoices.fx_rate_invoice_date,
        {{ dbt.datediff('invoices.invoice_date', 'invoices.due_date', 'day') }} as terms_days,
        case when requests.scoring_date > invoices.due_date then 1 else 0 end as is_overdue,
        customers.segment,
        customers.region,
        customers.country,
        customers.payment_terms,
        customers.credit_limit * limit_rates.rate_to_reporting as credit_limit_reporting,
        {%- for column in risk_state_columns() %}
        state.{{ column }},
        {%- endfor %}
        coalesce(own_disputes.own_dispute_count, 0) as own_dispute_count,
        coalesce(own_disputes.own_dispute_open, 0) as own_dispute_open,
        own_disputes.own_last_dispute_opened_date,
        coalesce(own_promises.own_broken_promise_count, 0) as own_broken_promise_count,
        coalesce(own_promises.own_promise_pending, 0) as own_promise_pending,
        own_promises.own_pending_promised_date
    from requests
    inner join invoices
        on invoices.invoice_id = requests.invoice_id
    inner join {{ ref('int_risk_customer_state') }} as state
        on state.customer_id = requests.customer_id
        and state.state_date = requests.history_date
    left join customers
        on customers.customer_id = requests.customer_id
    left join {{ ref('int_fx_rates_daily') }} as limit_rates
        on limit_rates.currency = customers.customer_currency
        and limit_rates.rate_date = requests.scoring_date
    left join own_disputes
        on own_disputes.invoice_id = requests.invoice_id
        and own_disputes.scoring_date = requests.scoring_date
        and requests.row_kind = 'snapshot'
    left join own_promises
        on own_promises.invoice_id = requests.invoice_id
        and own_promises.scoring_date = requests.scoring_date
        and requests.row_kind = 'snapshot'

),

features as (

    select
        joined.invoice_id,
        joined.customer_id,
        joined.scoring_date,
        joined.row_kind,
        joined.history_date,
        joined.document_type,
        joined.currency,
        joined.invoice_date,
        joined.due_date,
        joined.due_date_is_imputed,
        joined.amount,
        {{ to_money('case when joined.row_kind = \'issue\' then joined.amount else joined.own_balance_at_scoring end') }}
            as open_amount_at_scoring,
        {{ to_double('joined.amount_reporting') }} as amount_reporting_value,
        {{ to_double('joined.terms_days') }} as terms_days,
        {{ to_double(dbt.datediff(dbt.date_trunc('year', 'joined.due_date'), dbt.date_trunc('month', 'joined.due_date'), 'month') ~ ' + 1') }}
            as due_month,
        {{ days_between('joined.invoice_date', 'joined.scoring_date') }} as age_days,
        {{ days_between('joined.due_date', 'joined.scoring_date') }} as days_past_due,
        {{ to_double("case when joined.row_kind = 'issue' then 1 else "
                     ~ divide('joined.own_balance_at_scoring', 'nullif(joined.amount, 0)') ~ " end") }}
            as open_share,
        joined.segment,
        joined.region,
        joined.country,
        joined.payment_terms,
        {{ risk_history_features('joined', 'joined.scoring_date') }},
        {{ risk_exposure_features(
            'joined',
            own_issued='joined.own_in_state',
            own_amount_reporting='joined.own_in_state * coalesce(joined.amount_reporting, 0)',
            own_terms_days='joined.own_in_state * joined.terms_days',
            own_open_count='joined.own_in_state',
            own_open_reporting='case when joined.own_in_state = 1'
                ~ ' then joined.own_balance_at_scoring * joined.fx_rate_invoice_date else 0 end',
            own_overdue_count='joined.own_in_state * joined.is_overdue',
            own_overdue_reporting='case when joined.own_in_state = 1 and joined.is_overdue = 1'
                ~ ' then joined.own_balance_at_scoring * joined.fx_rate_invoice_date else 0 end',
            exposure_reporting="case when joined.row_kind = 'issue' then coalesce(joined.amount_reporting, 0) else joined.own_balance_at_scoring * joined.fx_rate_invoice_date end",
            credit_limit_reporting='joined.credit_limit_reporting') }},
        {{ to_double('joined.own_dispute_count') }} as own_dispute_count,
        {{ to_double('joined.own_dispute_open') }} as own_dispute_open,
        joined.own_last_dispute_opened_date,
        {{ to_double('joined.own_broken_promise_count') }} as own_broken_promise_count,
        {{ to_double('joined.own_promise_pending') }} as own_promise_pending,
        joined.own_pending_promised_date
    from joined

),

final as (

    select
        features.*,
        {{ divide('amount_reporting_value', 'nullif(usual_invoice_amount_reporting, 0)') }} as invoice_size_ratio
    from features

)

select * from final
