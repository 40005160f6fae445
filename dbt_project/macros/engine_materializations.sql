{#- Where an engine's storage cannot do what a model's materialization needs, one dispatch macro
    says what it does instead. Spark writes plain Parquet tables (delta-spark fetches its jars at
    run time, which an offline machine cannot): no row-level delete, no column constraints. -#}

{#- The materialization of a model kept incrementally by deleting the days it restates and
    appending them again (fct_ar_aging_daily). DuckDB deletes rows in place; plain Parquet cannot,
    and an insert-overwrite of partitions would keep days a run for an earlier as_of_date must drop,
    so Spark rebuilds the table whole: the same rows, at the cost of a full build (DECISIONS.md S2). -#}
{% macro restated_history_materialization() -%}
    {{ return(adapter.dispatch('restated_history_materialization')()) }}
{%- endmacro %}

{% macro default__restated_history_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__restated_history_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{#- dbt-spark enforces a contract's not_null constraints only on Delta tables (ALTER COLUMN ...
    SET NOT NULL), and skips them on Parquet. Here they are checked on the written table instead:
    a null in a constrained column fails the model, so nothing downstream of it builds or publishes,
    as the DuckDB build refuses the insert (DECISIONS.md S2). Overrides dbt-spark's own macro. -#}
{% macro spark__persist_constraints(relation, model) %}
    {%- set contract_config = config.get('contract') -%}
    {%- if not (contract_config and contract_config.enforced) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- for column_name, column in model.columns.items() -%}
        {%- if column.constraints | selectattr('type', 'equalto', 'not_null') | list -%}
            {%- set nulls = run_query('select count(*) from ' ~ relation ~ ' where ' ~ column_name ~ ' is null').columns[0].values()[0] -%}
            {%- if nulls > 0 -%}
                {{ exceptions.raise_compiler_error("inflow: contract of " ~ relation ~ ": " ~ nulls ~ " row(s) with a null " ~ column_name ~ " (constraint not_null)") }}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
{% endmacro %}

{#- Run before every dbt command (on-run-start): make the sources of schema raw readable. DuckDB's
    landing views already are. On Spark each source is a table over the entity's folder of the
    lake Inflow writes before the build (env INFLOW_LAKE_PATH, orchestration/defs/transform/spark.py),
    re-created every run so a changed column list is read as it now is (dropping an external
    table leaves its files). -#}
{% macro register_landing_sources() -%}
    {{ return(adapter.dispatch('register_landing_sources')()) }}
{%- endmacro %}

{% macro default__register_landing_sources() -%}
{%- endmacro %}

{% macro spark__register_landing_sources() -%}
    {%- if execute -%}
        {%- set lake = env_var('INFLOW_LAKE_PATH', '') -%}
        {%- if not lake -%}
            {{ exceptions.raise_compiler_error("inflow: a Spark build reads the landed batches from INFLOW_LAKE_PATH, which is not set (inflow run --engine spark sets it)") }}
        {%- endif -%}
        {%- set sources = graph.sources.values() | selectattr('source_name', 'equalto', 'landing') | list -%}
        {%- do run_query('create database if not exists ' ~ sources[0].schema) -%}
        {%- for source in sources -%}
            {%- set relation = source.schema ~ '.' ~ source.identifier -%}
            {%- do run_query('drop table if exists ' ~ relation) -%}
            {%- do run_query("create table " ~ relation ~ " using parquet location '" ~ lake ~ "/" ~ source.schema ~ "/" ~ source.identifier ~ "'") -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
