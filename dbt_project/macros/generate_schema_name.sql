{#- Custom schemas are used as-is (staging, intermediate, marts): the warehouse layers are the
    schemas every consumer, the Dagster asset keys and the publish step rely on, so no target
    prefix is added. Models without a custom schema fall back to the target schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
