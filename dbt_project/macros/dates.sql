{#- A configured ISO date (e.g. var('as_of_date')) as a SQL date literal. Fails the run, naming
    the value, when it is not YYYY-MM-DD, so a typo never silently means another day (an
    impossible day such as 2026-02-30 is then refused by the database's own cast). Models pass
    var('as_of_date') in directly, so unit tests can override it. -#}
{% macro date_literal(value) -%}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$', text) -%}
        {{ exceptions.raise_compiler_error("inflow: expected an ISO date YYYY-MM-DD, got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ dbt.cast(dbt.string_literal(text), api.Column.translate_type('date')) }}
{%- endmacro %}

{#- A date plus a number of days, still a date (dbt.dateadd yields a timestamp on some engines,
    which would leak into comparisons and enforced contracts). days may be a column expression. -#}
{% macro add_days(date_expression, days) -%}
    {{ dbt.cast(dbt.dateadd('day', days, date_expression), api.Column.translate_type('date')) }}
{%- endmacro %}
