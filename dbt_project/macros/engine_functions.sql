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

{#- DuckDB's md5_number() is the MD5 digest read as a little-endian unsigned 128-bit number; Spark
    has no 128-bit integer, so the digest is read as two little-endian 64-bit halves and the
    remainder taken as (high mod b) * (2^64 mod b) + (low mod b), mod b: the same bucket as DuckDB,
    so a sample is the same invoices on both engines. -#}
{% macro spark__stable_bucket(expression, buckets) -%}
    {%- set digest = 'md5(' ~ expression ~ ')' -%}
    {%- set halves = [] -%}
    {%- for first_byte in [8, 0] -%}
        {%- set hex_bytes = [] -%}
        {%- for byte in range(first_byte + 7, first_byte - 1, -1) -%}
            {%- do hex_bytes.append('substr(' ~ digest ~ ', ' ~ (2 * byte + 1) ~ ', 2)') -%}
        {%- endfor -%}
        {%- do halves.append('cast(conv(concat(' ~ hex_bytes | join(', ') ~ '), 16, 10) as decimal(20, 0))') -%}
    {%- endfor -%}
    cast(pmod(
        pmod({{ halves[0] }}, {{ buckets }}) * {{ (2 ** 64) % buckets }} + pmod({{ halves[1] }}, {{ buckets }}),
        {{ buckets }}
    ) as bigint)
{%- endmacro %}

{% macro default__stable_bucket(expression, buckets) -%}
    {{ exceptions.raise_compiler_error("inflow: stable_bucket has no implementation for adapter " ~ adapter.type()) }}
{%- endmacro %}
