{#- Risk feature expressions shared by the invoice feature rows and the customer rows, so both
    describe a customer's state the same way. `state` is the alias of an int_risk_customer_state
    row, `scoring_date` the day the row is scored on (its history may end the day before, for
    issue rows). Features are doubles (ratios and day counts for a model, not money). -#}

{#- The columns of a customer state row (int_risk_customer_state): running sums of the event
    columns of int_risk_customer_events (event column -> state column), latest days seen, and the
    recent-history statistics of the last paid invoice (int_risk_paid_history). -#}
{% macro risk_state_sums() -%}
    {{ return({
        'issued_count': 'issued_count',
        'issued_amount_reporting': 'issued_amount_reporting',
        'issued_terms_days': 'issued_terms_days',
        'open_balance_change_reporting': 'open_balance_reporting',
        'open_count_change': 'open_count',
        'overdue_balance_change_reporting': 'overdue_balance_reporting',
        'overdue_count_change': 'overdue_count',
        'paid_count': 'paid_count',
        'late_count': 'late_count',
        'severe_late_count': 'severe_late_count',
        'partial_count': 'partial_count',
        'days_beyond_terms_sum': 'days_beyond_terms_sum',
        'days_late_sum': 'days_late_sum',
        'written_off_count': 'written_off_count',
        'dispute_count': 'dispute_count',
        'broken_promise_count': 'broken_promise_count',
    }) }}
{%- endmacro %}

{% macro risk_state_latest() -%}
    {{ return(['last_late_paid_date', 'last_broken_promised_date', 'last_touch_date']) }}
{%- endmacro %}

{% macro risk_state_recent() -%}
    {{ return(['days_beyond_terms_mean_last_5', 'days_beyond_terms_median_last_10', 'days_late_mean_last_5']) }}
{%- endmacro %}

{% macro risk_state_columns() -%}
    {{ return(['first_invoice_date'] + risk_state_sums().values() | list + risk_state_latest() + risk_state_recent()) }}
{%- endmacro %}

{#- Days from an earlier day to a later one, as a double; null when the earlier day is null. -#}
{% macro days_between(earlier, later) -%}
    {{ to_double(dbt.datediff(earlier, later, 'day')) }}
{%- endmacro %}

{#- The customer's payment history known at the end of its state day: how many invoices it has
    paid, how late (days beyond terms = max(paid day - due day, 0), D4), the share paid late
    (more than risk_grace_days) and severely late (more than risk_severe_days), partial
    payments (P3), the recent mean and median and their trend against the whole history,
    write-offs, disputes, broken promises and collector touches. Null when there is nothing to
    measure (no paid invoice yet), never a made-up zero. -#}
{% macro risk_history_features(state, scoring_date) -%}
        {{ days_between(state ~ '.first_invoice_date', scoring_date) }} as customer_tenure_days,
        {{ to_double(state ~ '.paid_count') }} as paid_invoice_count,
        {{ to_double(state ~ '.late_count') }} as late_invoice_count,
        {{ divide(state ~ '.late_count', 'nullif(' ~ state ~ '.paid_count, 0)') }} as late_share,
        {{ divide(state ~ '.severe_late_count', 'nullif(' ~ state ~ '.paid_count, 0)') }} as severe_late_share,
        {{ divide(state ~ '.partial_count', 'nullif(' ~ state ~ '.paid_count, 0)') }} as partial_payment_share,
        {{ divide(state ~ '.days_beyond_terms_sum', 'nullif(' ~ state ~ '.paid_count, 0)') }} as days_beyond_terms_mean,
        {{ divide(state ~ '.days_beyond_terms_sum', 'nullif(' ~ state ~ '.late_count, 0)') }}
            as days_late_when_late_mean,
        {{ divide(state ~ '.days_late_sum', 'nullif(' ~ state ~ '.paid_count, 0)') }} as days_late_mean,
        {{ to_double(state ~ '.days_late_mean_last_5') }} as days_late_mean_last_5,
        {{ to_double(state ~ '.days_beyond_terms_median_last_10') }} as days_beyond_terms_median_last_10,
        {{ to_double(state ~ '.days_beyond_terms_mean_last_5') }} as days_beyond_terms_mean_last_5,
        {{ to_double(state ~ '.days_beyond_terms_mean_last_5') }}
            - {{ divide(state ~ '.days_beyond_terms_sum', 'nullif(' ~ state ~ '.paid_count, 0)') }}
            as days_beyond_terms_trend,
        {{ days_between(state ~ '.last_late_paid_date', scoring_date) }} as days_since_last_late_payment,
        {{ to_double(state ~ '.written_off_count') }} as written_off_invoice_count,
        {{ to_double(state ~ '.dispute_count') }} as customer_dispute_count,
        {{ to_double(state ~ '.broken_promise_count') }} as broken_promise_count,
        {{ state }}.last_broken_promised_date,
        {{ days_between(state ~ '.last_broken_promised_date', scoring_date) }} as days_since_broken_promise,
        {{ days_between(state ~ '.last_touch_date', scoring_date) }} as days_since_last_touch
{%- endmacro %}

{#- The customer's exposure beside the row's own invoice: its other open and overdue invoices
    and balances (reporting currency at each invoice's invoice-date rate), the size and terms of
    its usual invoice, and its credit-limit use (all open balance, this invoice's included, over
    the credit limit at the scoring day's rate). own_* say what of the row's own invoice the
    state already contains (0 for an issue row or a customer row, whose state ends before it). -#}
{% macro risk_exposure_features(state, own_issued, own_amount_reporting, own_terms_days, own_open_count,
                                own_open_reporting, own_overdue_count, own_overdue_reporting,
                                exposure_reporting, credit_limit_reporting) -%}
        {{ to_double(state ~ '.issued_count - ' ~ own_issued) }} as prior_invoice_count,
        {{ divide(state ~ '.issued_amount_reporting - ' ~ own_amount_reporting,
                  'nullif(' ~ state ~ '.issued_count - ' ~ own_issued ~ ', 0)') }} as usual_invoice_amount_reporting,
        {{ divide(state ~ '.issued_terms_days - ' ~ own_terms_days,
                  'nullif(' ~ state ~ '.issued_count - ' ~ own_issued ~ ', 0)') }} as usual_terms_days,
        {{ to_double(state ~ '.open_count - ' ~ own_open_count) }} as other_open_invoice_count,
        {{ to_double(state ~ '.open_balance_reporting - ' ~ own_open_reporting) }} as other_open_balance_reporting,
        {{ to_double(state ~ '.overdue_count - ' ~ own_overdue_count) }} as other_overdue_invoice_count,
        {{ to_double(state ~ '.overdue_balance_reporting - ' ~ own_overdue_reporting) }} as other_overdue_balance_reporting,
        {{ divide(state ~ '.overdue_balance_reporting - ' ~ own_overdue_reporting,
                  'nullif(' ~ state ~ '.open_balance_reporting - ' ~ own_open_reporting ~ ', 0)') }}
            as other_overdue_share,
        {{ divide(state ~ '.open_balance_reporting - ' ~ own_open_reporting ~ ' + ' ~ exposure_reporting,
                  'nullif(' ~ credit_limit_reporting ~ ', 0)') }} as credit_limit_use
{%- endmacro %}
