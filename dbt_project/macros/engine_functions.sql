{#- Functions every engine has under a different name, one dispatch macro each. -#}

{#- The median of an expression over the current row and the preceding_rows rows before it in a
    window (a moving median). Not every engine has one: DuckDB's median() and Spark's
    percentile() are window functions; an engine without an implementation fails at compile
    time naming itself, rather than computing something else. Both take the expression as DOUBLE
    and return the same DOUBLE (DuckDB's median of a DECIMAL was a DECIMAL, Spark's a DOUBLE). -#}
{% macro windowed_median(expression, partition_by, order_by, preceding_rows) -%}
    {{ return(adapter.dispatch('windowed_median')(expression, partition_by, order_by, preceding_rows)) }}
{%- endmacro %}

{% macro duckdb__windowed_median(expression, partition_by, order_by, preceding_rows) -%}
    median({{ to_double(expression) }}) over (
        partition by {{ partition_by }} order by {{ order_by }}
        rows between {{ preceding_rows }} preceding and current row
    )
{%- endmacro %}

{% macro spark__windowed_median(expression, partition_by, order_by, preceding_rows) -%}
    percentile({{ to_double(expression) }}, 0.5) over (
        partition by {{ partition_by }} order by {{ order_by }}
        rows between {{ preceding_rows }} preceding and current row
    )
{%- endmacro %}

{% macro default__windowed_median(expression, partition_by, order_by, preceding_rows) -%}
    {{ exceptions.raise_compiler_error("inflow: windowed_median has no implementation for adapter " ~ adapter.type()) }}
{%- endmacro %}

{#- A stable pseudo-random bucket in [0, buckets) of a text key, the same on every run and
    machine (for deterministic sampling of whole invoices). -#}
{% macro stable_bucket(expression, buckets) -%}
    {{ return(adapter.dispatch('stable_bucket')(expression, buckets)) }}
{%- endmacro %}

{% macro duckdb__stable_bucket(expression, buckets) -%}
    cast(md5_number({{ expression }}) % {{ buckets }} as bigint)
{%- endmacro %}

{% macro spark__stable_bucket(expression, buckets) -%}
    pmod(xxhash64({{ expression }}), {{ buckets }})
{%- endmacro %}

{% macro default__stable_bucket(expression, buckets) -%}
    {{ exceptions.raise_compiler_error("inflow: stable_bucket has no implementation for adapter " ~ adapter.type()) }}
{%- endmacro %}
