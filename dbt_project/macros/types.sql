{#- The warehouse's money and rate precision in one place (the canonical contract's DECIMAL(18,2)
    and DECIMAL(18,8)). Money is never float. Sums of money are cast back so enforced contracts
    and consumers see one type. -#}
{% macro to_money(expression) -%}
    {{ dbt.cast(expression, 'decimal(18,2)') }}
{%- endmacro %}

{% macro to_rate(expression) -%}
    {{ dbt.cast(expression, 'decimal(18,8)') }}
{%- endmacro %}

{#- A transaction amount in the reporting currency at a given rate, rounded to the cent. -#}
{% macro to_reporting(amount, rate) -%}
    {{ to_money('round((' ~ amount ~ ') * (' ~ rate ~ '), 2)') }}
{%- endmacro %}
