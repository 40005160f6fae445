{#- A configured ISO date (e.g. a var) as a SQL date literal. Fails the run, naming the value,
    when it is not YYYY-MM-DD, so a typo never silently means another day (an impossible day such
    as 2026-02-30 is then refused by the database's own cast). -#}
{% macro date_literal(value) -%}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$', text) -%}
        {{ exceptions.raise_compiler_error("inflow: expected an ISO date YYYY-MM-DD, got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ dbt.cast(dbt.string_literal(text), api.Column.translate_type('date')) }}
{%- endmacro %}

{#- The day every balance, age and rate is computed as of, as a SQL date literal.

    Dagster passes a run's date in the environment (INFLOW_DBT_AS_OF_DATE), read only while
    executing: as a --vars value, or an environment variable read while parsing, it would change
    dbt's parse state every day and make dbt re-parse the whole project on every daily run
    (DECISIONS.md R1). Without it (dbt run by hand, unit tests) var('as_of_date') is used, which
    --vars or a unit test's overrides set. -#}
{% macro as_of_date() -%}
    {{ date_literal((env_var('INFLOW_DBT_AS_OF_DATE', '') if execute else '') or var('as_of_date')) }}
{%- endmacro %}

{#- A date plus a number of days, still a date (dbt.dateadd yields a timestamp on some engines,
    which would leak into comparisons and enforced contracts). days may be a column expression. -#}
{% macro add_days(date_expression, days) -%}
    {{ dbt.cast(dbt.dateadd('day', days, date_expression), api.Column.translate_type('date')) }}
{%- endmacro %}
