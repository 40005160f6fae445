{#- One rule for every identifier read from a source, so joins across systems match:
    trimmed, empty as null, and an all-digit id without its leading zeros ('0012345' and '12345'
    are the same ERP key; '0' stays '0'). Ids with any non-digit are kept as written (trimmed).
    Landing applies the same rule; applying it again here keeps staging correct on its own and is
    idempotent. Dispatched so an engine without translate() can supply its own version. -#}
{% macro normalize_id(column) -%}
    {{ return(adapter.dispatch('normalize_id', 'inflow')(column)) }}
{%- endmacro %}

{% macro default__normalize_id(column) -%}
    {%- set trimmed = "trim(" ~ column ~ ")" -%}
    case
        when {{ trimmed }} = '' then null
        when translate({{ trimmed }}, '0123456789', '') = ''
            then coalesce(nullif(trim(leading '0' from {{ trimmed }}), ''), '0')
        else {{ trimmed }}
    end
{%- endmacro %}
