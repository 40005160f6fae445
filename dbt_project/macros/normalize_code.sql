{#- Currency codes compare upper-case and trimmed ('usd ' = 'USD'); empty is null. -#}
{% macro normalize_currency(column) -%}
    nullif(upper(trim({{ column }})), '')
{%- endmacro %}

{#- Enumerated codes (document_type, status, kind, role) compare lower-case and trimmed. -#}
{% macro normalize_code(column) -%}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}

{#- Free text: trimmed, empty as null. -#}
{% macro normalize_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}
