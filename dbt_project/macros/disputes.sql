{#- Whether a dispute was raised, and whether it was open, on a given day: written once here and
    used by every model that asks (the fact layer's is_disputed, month-end disputed AR, invoice
    detail, payment behaviour). A dispute is open on day D from the day it was opened until the day
    before it was resolved; times of day are ignored. `day` is a SQL date expression, `prefix` the
    relation alias with its dot ('disputes.'), or empty. -#}
{% macro dispute_raised_by(day, prefix='') -%}
    {{ dbt.cast(prefix ~ 'opened_at', api.Column.translate_type('date')) }} <= {{ day }}
{%- endmacro %}

{% macro dispute_resolved_by(day, prefix='') -%}
    ({{ prefix }}resolved_at is not null and {{ dbt.cast(prefix ~ 'resolved_at', api.Column.translate_type('date')) }} <= {{ day }})
{%- endmacro %}

{% macro dispute_open_on(day, prefix='') -%}
    ({{ dispute_raised_by(day, prefix) }} and not {{ dispute_resolved_by(day, prefix) }})
{%- endmacro %}
