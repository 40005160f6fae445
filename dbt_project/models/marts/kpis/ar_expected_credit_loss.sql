{#- IFRS 9 simplified-approach provision matrix (DECISIONS.md E1-E5): per segment and aging
    bucket, the roll rate to the next bucket (or, from the last bucket, to write-off), the loss
    rate chained from it to write-off, and the allowance on the as_of exposure. -#}
{%- set buckets = aging_bucket_bounds(var('aging_buckets')) -%}
{%- set floor = var('ecl_loss_rate_floor') -%}
{%- set ceiling = var('ecl_loss_rate_ceiling') -%}
{%- if floor is not number or ceiling is not number or not (0 <= floor <= ceiling <= 1) -%}
    {{ exceptions.raise_compiler_error(
        "inflow: vars ecl_loss_rate_floor and ecl_loss_rate_ceiling must satisfy "
        ~ "0 <= floor <= ceiling <= 1, got floor '" ~ floor ~ "', ceiling '" ~ ceiling ~ "'") }}
{%- endif -%}

with

inputs as (

    select * from {{ ref('int_ecl_inputs') }}

),

-- E2: of the balances that left bucket k within a month, the share that rolled forward.
resolved as (

    select
        inputs.*,
        rolled_forward_reporting + cured_reporting as resolved_reporting,
        sum(rolled_forward_reporting) over (partition by bucket_order)
            as portfolio_rolled_forward_reporting,
        sum(rolled_forward_reporting + cured_reporting) over (partition by bucket_order)
            as portfolio_resolved_reporting
    from inputs

),

-- E3: the segment's own evidence first, else the whole portfolio's; rates kept within [0, 1].
roll_rates as (

    select
        resolved.*,
        case
            when resolved_reporting > 0 then 'segment'
            when portfolio_resolved_reporting > 0 then 'portfolio'
            else 'none'
        end as roll_rate_source,
        case
            when resolved_reporting > 0
                then {{ divide('rolled_forward_reporting', 'resolved_reporting') }}
            when portfolio_resolved_reporting > 0
                then {{ divide('portfolio_rolled_forward_reporting', 'portfolio_resolved_reporting') }}
            else 0
        end as roll_rate_unbounded
    from resolved

),

bounded_rates as (

    select
        roll_rates.*,
        case
            when roll_rate_unbounded < 0 then 0
            when roll_rate_unbounded > 1 then 1
            else roll_rate_unbounded
        end as roll_rate
    from roll_rates

),

segment_chains as (

    select
        segment,
        {%- for bucket in buckets %}
        max(case when bucket_order = {{ bucket.order }} then roll_rate end)
            as roll_rate_{{ bucket.order }}{{ ',' if not loop.last }}
        {%- endfor %}
    from bounded_rates
    group by 1

),

-- E4: loss rate of bucket k = product of the roll rates from k to write-off.
chained as (

    select
        bounded_rates.*,
        case bounded_rates.bucket_order
            {%- for bucket in buckets %}
            when {{ bucket.order }} then
                {%- for later in buckets if later.order >= bucket.order %}
                coalesce(segment_chains.roll_rate_{{ later.order }}, 0){{ ' *' if not loop.last }}
                {%- endfor %}
            {%- endfor %}
        end as loss_rate_chained
    from bounded_rates
    inner join segment_chains
        on bounded_rates.segment = segment_chains.segment

),

-- E5: floor and ceiling.
floored as (

    select
        chained.*,
        case
            when loss_rate_chained < {{ floor }} then {{ floor }}
            when loss_rate_chained > {{ ceiling }} then {{ ceiling }}
            else loss_rate_chained
        end as loss_rate_bounded
    from chained

),

final as (

    select
        segment,
        bucket_order,
        aging_bucket,
        '{{ var("reporting_currency") }}' as reporting_currency,
        exposure_reporting,
        open_invoice_count,
        observed_balance_reporting,
        stayed_reporting,
        rolled_forward_reporting,
        cured_reporting,
        roll_rate_source,
        {{ decimal_from_double('roll_rate', 18, 8) }} as roll_rate,
        {{ decimal_from_double('loss_rate_chained', 18, 8) }} as loss_rate_chained,
        {{ decimal_from_double('loss_rate_bounded', 18, 8) }} as loss_rate,
        {{ to_money(times_rate('exposure_reporting', decimal_from_double('loss_rate_bounded', 18, 8))) }}
            as allowance_reporting,
        {{ var('ecl_lookback_months') }} as lookback_months,
        {{ as_of_date() }} as as_of_date
    from floored

)

select * from final
