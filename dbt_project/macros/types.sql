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
    aggregated balances (ECL exposure at 10M invoices) do reach. Widened to DECIMAL(20,2) (up to
    10^18) times a rate below 10^9 as DECIMAL(17,8), the product's 37 digits at scale 10 stay
    within 38: Spark keeps all of them (past 38 it cuts the scale to 6, and the cent is then
    rounded twice, 0.004999995 becoming 0.01) and DuckDB computes the same exact product. -#}
{% macro times_rate(amount, rate) -%}
    round({{ dbt.cast('(' ~ amount ~ ')', 'decimal(20,2)') }} * {{ dbt.cast('(' ~ rate ~ ')', 'decimal(17,8)') }}, 2)
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

{#- Numbers that are not money: quotients, means, medians and the rounding that publishes them
    (DECISIONS.md S3). DuckDB divides DECIMALs and integers as DOUBLE; Spark divides DECIMALs as
    DECIMAL and cuts the scale to 6 digits when the precision would pass 38, and its avg() of a
    DECIMAL is a DECIMAL. So a quotient is computed as DOUBLE on every engine, from exact DECIMAL
    or integer operands, and published through decimal_from_double(). -#}

{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double')()) }}
{%- endmacro %}

{% macro default__type_double() -%}double{%- endmacro %}

{% macro to_double(expression) -%}
    {{ dbt.cast(expression, type_double()) }}
{%- endmacro %}

{#- Rule: every `/` goes through divide(): both sides cast to DOUBLE, then divided (DuckDB's own
    `/`), so the quotient is the same double on every engine. Put nullif(denominator, 0) inside. -#}
{% macro divide(numerator, denominator) -%}
    ({{ to_double(numerator) }} / {{ to_double(denominator) }})
{%- endmacro %}

{#- Rule: a mean is mean(x) (or mean(x, window) for `over (window)`), never avg(): the exact sum
    of x (DECIMAL or integer) divided by its count with divide(); null over no values. -#}
{% macro mean(expression, window=none) -%}
    {%- set over = (' over (' ~ window ~ ')') if window else '' -%}
    {{ divide('sum(' ~ expression ~ ')' ~ over, 'count(' ~ expression ~ ')' ~ over) }}
{%- endmacro %}

{#- Rule: a DOUBLE is rounded with round_double(x, places), never round(): half away from zero of
    the decimal the double stands for. Engines differ: DuckDB's round() rounds the double's exact
    binary value (623 / 20 = 31.15 is 31.149999999999998578... as a double, so 31.1), Spark's its
    shortest decimal form HALF_UP (31.2). Here a double that is the nearest double to a half-way
    decimal (31.15) rounds away from zero (31.2) and any other is rounded by its exact value, in
    plain IEEE arithmetic every engine does alike (DECISIONS.md S3). -#}
{% macro round_double(expression, places) -%}
    {%- if places is not integer or places < 0 or places > 11 -%}
        {{ exceptions.raise_compiler_error("inflow: round_double takes a whole number of places from 0 to 11, got " ~ places) }}
    {%- endif -%}
    {{ return(adapter.dispatch('round_double')(expression, places)) }}
{%- endmacro %}

{#- The half-way test: m = floor(|x| * 10^places); |x| is the nearest double to the half-way decimal
    (m + 0.5) / 10^places when it equals (2m + 1) / (2 * 10^places), a correctly rounded IEEE
    division of two exact integers. -#}
{% macro duckdb__round_double(expression, places) -%}
    {%- set x = to_double(expression) -%}
    {%- set power = to_double(10 ** places) -%}
    case
        when abs({{ x }}) = (2 * floor(abs({{ x }}) * {{ power }}) + 1) / (2 * {{ power }})
            then sign({{ x }}) * (floor(abs({{ x }}) * {{ power }}) + 1) / {{ power }}
        else round({{ x }}, {{ places }})
    end
{%- endmacro %}

{#- Spark's round() cannot give the exact-value rounding, so it is computed: p = |v| * 10^places
    rounded to a double, e the exact error of that product (Dekker's two-product: v split in two
    halves of 26 bits with 2^27 + 1; 10^places, places <= 11, has at most 26 significant bits), and
    the exact |v| * 10^places = p + e is at or past floor(p) + 0.5 when (p - floor(p)) - 0.5 >= -e.
    v is bound once by a lambda. -#}
{% macro spark__round_double(expression, places) -%}
    {%- set power = to_double(10 ** places) -%}
    {%- set split = to_double(134217729) -%}
    {%- set p = '(abs(v) * ' ~ power ~ ')' -%}
    {%- set high = '(' ~ split ~ ' * abs(v) - (' ~ split ~ ' * abs(v) - abs(v)))' -%}
    {%- set error = '((' ~ high ~ ' * ' ~ power ~ ' - ' ~ p ~ ') + (abs(v) - ' ~ high ~ ') * ' ~ power ~ ')' -%}
    element_at(transform(array({{ to_double(expression) }}), v -> sign(v) * (
        case
            when abs(v) = (2 * floor({{ p }}) + 1) / (2 * {{ power }}) then floor({{ p }}) + 1
            when ({{ p }} - floor({{ p }})) - 0.5 >= -{{ error }} then floor({{ p }}) + 1
            else floor({{ p }})
        end) / {{ power }}), 1)
{%- endmacro %}

{% macro default__round_double(expression, places) -%}
    {{ exceptions.raise_compiler_error("inflow: round_double has no implementation for adapter " ~ adapter.type()) }}
{%- endmacro %}

{#- Rule: a DOUBLE is published as DECIMAL(precision, scale) with decimal_from_double(), never a
    bare cast or round(): rounded at `scale` by round_double(), then cast (exact: the value already
    has `scale` decimals; a cast alone rounds differently on each engine). -#}
{% macro decimal_from_double(expression, precision, scale) -%}
    {{ dbt.cast(round_double(expression, scale), 'decimal(' ~ precision ~ ', ' ~ scale ~ ')') }}
{%- endmacro %}
