{#- The warehouse's money and rate precision in one place (the canonical contract's DECIMAL(18,2)
    and DECIMAL(18,8)). Money is never float. Sums of money are cast back so enforced contracts
    and consumers see one type. -#}
{% macro to_money(expression) -%}
    {{ dbt.cast(expression, 'decimal(18,2)') }}
{%- endmacro %}

{% macro to_rate(expression) -%}
    {{ dbt.cast(expression, 'decimal(18,8)') }}
{%- endmacro %}

{#- Money times a rate, rounded to the cent. The money is widened first: DECIMAL(18,2) times
    DECIMAL(18,8) is computed at scale 10, which overflows 18 digits from about 100 million, a size
    aggregated balances (ECL exposure at 10M invoices) do reach. -#}
{% macro times_rate(amount, rate) -%}
    round({{ dbt.cast('(' ~ amount ~ ')', 'decimal(38,2)') }} * ({{ rate }}), 2)
{%- endmacro %}

{#- A transaction amount in the reporting currency at a given rate, rounded to the cent. -#}
{% macro to_reporting(amount, rate) -%}
    {{ to_money(times_rate(amount, rate)) }}
{%- endmacro %}

{#- A whole number as BIGINT, rounded half away from zero. A cast alone differs by engine: DuckDB
    rounds a decimal it casts to an integer, Spark truncates it, so 4969.5 became 4970 and 4969. -#}
{% macro to_whole_number(expression) -%}
    {{ dbt.cast('round(' ~ expression ~ ', 0)', 'bigint') }}
{%- endmacro %}
