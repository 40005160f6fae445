{#- Aging configuration, validated once here so every model ages the same way.

    aging_bucket_bounds(buckets) turns the configured upper bounds (e.g. [30, 60, 90, 120]) into
    the ordered buckets: 'current' (age <= 0 days), '1-30', '31-60', '61-90', '91-120' and the
    open-ended 'over_120'. Each is {order, label, min_days, max_days}; min/max are inclusive and
    none means unbounded. A list that is empty, not integers, not positive or not strictly
    ascending fails the run with the offending value. -#}
{% macro aging_bucket_bounds(buckets) -%}
    {%- if buckets is string or buckets is mapping or buckets is not iterable or buckets | length == 0 -%}
        {{ exceptions.raise_compiler_error("inflow: aging_buckets must be a non-empty list of day counts, got " ~ buckets) }}
    {%- endif -%}
    {%- set out = [{'order': 0, 'label': 'current', 'min_days': none, 'max_days': 0}] -%}
    {%- set previous = namespace(upper=0) -%}
    {%- for bound in buckets -%}
        {%- if bound is not number or bound != bound | int or bound <= previous.upper -%}
            {{ exceptions.raise_compiler_error("inflow: aging_buckets must be strictly ascending positive integers, got " ~ buckets) }}
        {%- endif -%}
        {%- do out.append({'order': loop.index, 'label': (previous.upper + 1) ~ '-' ~ bound,
                           'min_days': previous.upper + 1, 'max_days': bound | int}) -%}
        {%- set previous.upper = bound | int -%}
    {%- endfor -%}
    {%- do out.append({'order': buckets | length + 1, 'label': 'over_' ~ previous.upper,
                       'min_days': previous.upper + 1, 'max_days': none}) -%}
    {{ return(out) }}
{%- endmacro %}

{#- The column an invoice is aged from: its (possibly imputed) due date or its invoice date. -#}
{% macro aging_basis_column(basis) -%}
    {%- if basis == 'due_date' -%}
        {{ return('due_date') }}
    {%- elif basis == 'invoice_date' -%}
        {{ return('invoice_date') }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error("inflow: aging_basis must be 'due_date' or 'invoice_date', got '" ~ basis ~ "'") }}
{%- endmacro %}

{#- Days an invoice has been outstanding on its aging basis at a given day (negative = not yet due),
    as BIGINT on every engine (Spark's datediff is an INT, DuckDB's a BIGINT). -#}
{% macro aging_days(basis_date, on_day) -%}
    {{ dbt.cast(dbt.datediff(basis_date, on_day, 'day'), 'bigint') }}
{%- endmacro %}

{#- The bucket label (field='label') or order (field='order') of an age in days, as a CASE over
    the configured buckets; the same bounds int_aging_buckets lists. -#}
{% macro aging_bucket_case(days, buckets, field) -%}
    {%- set bounds = aging_bucket_bounds(buckets) -%}
    case
    {%- for b in bounds if b.max_days is not none %}
        when {{ days }} <= {{ b.max_days }} then {{ "'" ~ b.label ~ "'" if field == 'label' else b.order }}
    {%- endfor %}
        else {{ "'" ~ (bounds | last).label ~ "'" if field == 'label' else (bounds | last).order }}
    end
{%- endmacro %}
