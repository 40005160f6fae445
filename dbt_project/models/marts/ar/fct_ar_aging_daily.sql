{#- Daily aging history: one snapshot per day, per customer, currency and bucket, of the open
    balances on that day exactly as fct_ar_invoices would show them with as_of_date = that day
    (events dated on or before the day, balances floored at zero, the configured basis and
    buckets). Only non-empty buckets are stored. open_amount_reporting is at the snapshot day's
    rate, rounded per row (customer, currency, bucket): fct_ar_invoices rounds each invoice, so a
    day's reporting total can be a few cents from a sum over invoices, while open_amount ties
    exactly (assert_aging_ties_to_invoices_on_as_of_date). Totals for the as-of day come from
    fct_ar_invoices (the review pack does so).

    Built without expanding invoices by days: each invoice's open periods (int_invoice_balance_changes)
    are cut at its bucket boundaries into segments; segments become +/- deltas per customer,
    currency and bucket; running sums give levels that hold until the next delta; only then is
    each level spread over its days by joining day offsets smaller than the level's length (a
    single-inequality join, far cheaper than a date range join). Cost follows the number of
    balance changes and the size of the output, not invoices x days.

    Window: a full refresh builds the aging_history_days days ending on as_of_date. An
    incremental run first deletes (pre-hook) every stored day on or after the earliest of
    as_of_date, the latest stored day, and the earliest business date of any input row landed,
    or replaced by a re-delivery that changed or dropped it, after the last build (a late,
    back-dated payment restates the days it changes; an invoice exported again with only a new
    status or open amount restates nothing: aging_restatement_start), then rebuilds from the day
    after the latest remaining snapshot to as_of_date. So the table always
    equals what a full refresh over the same window would give, and a run for an earlier
    as_of_date drops later days. Changing aging_buckets or aging_basis needs --full-refresh. -#}
{{ config(
    materialized=restated_history_materialization(),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where snapshot_date >= {{ aging_restatement_start(this) }}{% endif %}"
) }}
{%- set as_of = as_of_date() -%}
{%- set history_days = var('aging_history_days') | int -%}
{%- if history_days < 1 -%}
    {{ exceptions.raise_compiler_error("inflow: aging_history_days must be a positive number of days, got '" ~ var('aging_history_days') ~ "'") }}
{%- endif -%}
{%- set history_start = add_days(as_of, 1 - history_days) -%}
{%- set basis = aging_basis_column(var('aging_basis')) %}

with

window_bounds as (

    select
        {%- if is_incremental() %}
        coalesce(
            (select max({{ add_days('snapshot_date', 1) }}) from {{ this }} where snapshot_date >= {{ history_start }}),
            {{ history_start }}
        ) as window_start,
        {%- else %}
        {{ history_start }} as window_start,
        {%- endif %}
        {{ as_of }} as window_end,
        {{ add_days(as_of, 1) }} as after_window

),

invoices as (

    select
        invoice_id,
        customer_id,
        currency,
        {{ basis }} as basis_date,
        due_date_is_imputed
    from {{ ref('int_invoices') }}

),

buckets as (

    select * from {{ ref('int_aging_buckets') }}

),

open_periods as (

    select
        changes.invoice_id,
        greatest(changes.change_date, window_bounds.window_start) as period_start,
        coalesce(changes.next_change_date, window_bounds.after_window) as period_end,
        changes.balance_after as open_amount
    from {{ ref('int_invoice_balance_changes') }} as changes
    cross join window_bounds
    where changes.balance_after > 0
        and coalesce(changes.next_change_date, window_bounds.after_window) > window_bounds.window_start

),

aged_periods as (

    select
        invoices.customer_id,
        invoices.currency,
        invoices.basis_date,
        case when invoices.due_date_is_imputed then 1 else 0 end as due_date_missing,
        open_periods.open_amount,
        open_periods.period_start,
        open_periods.period_end,
        {{ aging_days('invoices.basis_date', 'open_periods.period_start') }} as first_age,
        {{ aging_days('invoices.basis_date', 'open_periods.period_end') }} - 1 as last_age
    from open_periods
    inner join invoices
        on open_periods.invoice_id = invoices.invoice_id

),

segments as (

    select
        aged_periods.customer_id,
        aged_periods.currency,
        buckets.bucket_order,
        aged_periods.due_date_missing,
        aged_periods.open_amount,
        case
            when buckets.min_days is null or buckets.min_days <= aged_periods.first_age then aged_periods.period_start
            else {{ add_days('aged_periods.basis_date', 'buckets.min_days') }}
        end as segment_start,
        case
            when buckets.max_days is null or buckets.max_days >= aged_periods.last_age then aged_periods.period_end
            else {{ add_days('aged_periods.basis_date', 'buckets.max_days + 1') }}
        end as segment_end
    from aged_periods
    inner join buckets
        on (buckets.min_days is null or aged_periods.last_age >= buckets.min_days)
        and (buckets.max_days is null or aged_periods.first_age <= buckets.max_days)

),

deltas as (

    select
        customer_id, currency, bucket_order,
        segment_start as change_day,
        open_amount as amount_delta,
        1 as count_delta,
        due_date_missing as missing_delta
    from segments

    union all

    select
        segments.customer_id,
        segments.currency,
        segments.bucket_order,
        segments.segment_end as change_day,
        -segments.open_amount as amount_delta,
        -1 as count_delta,
        -segments.due_date_missing as missing_delta
    from segments
    cross join window_bounds
    where segments.segment_end <= window_bounds.window_end

),

daily_deltas as (

    select
        customer_id, currency, bucket_order, change_day,
        sum(amount_delta) as amount_delta,
        sum(count_delta) as count_delta,
        sum(missing_delta) as missing_delta
    from deltas
    group by customer_id, currency, bucket_order, change_day

),

levels as (

    select
        daily_deltas.customer_id,
        daily_deltas.currency,
        daily_deltas.bucket_order,
        daily_deltas.change_day as level_start,
        coalesce(
            lead(daily_deltas.change_day) over (
                partition by daily_deltas.customer_id, daily_deltas.currency, daily_deltas.bucket_order
                order by daily_deltas.change_day),
            window_bounds.after_window
        ) as level_end,
        sum(daily_deltas.amount_delta) over (
            partition by daily_deltas.customer_id, daily_deltas.currency, daily_deltas.bucket_order
            order by daily_deltas.change_day rows between unbounded preceding and current row
        ) as open_amount,
        sum(daily_deltas.count_delta) over (
            partition by daily_deltas.customer_id, daily_deltas.currency, daily_deltas.bucket_order
            order by daily_deltas.change_day rows between unbounded preceding and current row
        ) as invoice_count,
        sum(daily_deltas.missing_delta) over (
            partition by daily_deltas.customer_id, daily_deltas.currency, daily_deltas.bucket_order
            order by daily_deltas.change_day rows between unbounded preceding and current row
        ) as due_date_missing_count
    from daily_deltas
    cross join window_bounds

),

day_offsets as (

    select generated_number - 1 as day_offset
    from ({{ dbt.generate_series(history_days) }}) as numbers

),

snapshots as (

    select
        {{ add_days('levels.level_start', 'day_offsets.day_offset') }} as snapshot_date,
        levels.customer_id,
        levels.currency,
        levels.bucket_order,
        levels.open_amount,
        levels.invoice_count,
        levels.due_date_missing_count
    from levels
    inner join day_offsets
        on day_offsets.day_offset < {{ dbt.datediff('levels.level_start', 'levels.level_end', 'day') }}
    where levels.invoice_count > 0

),

inputs_loaded_through as (

    select {{ aging_inputs_loaded_through() }} as loaded_through

),

final as (

    select
        snapshots.snapshot_date,
        snapshots.customer_id,
        snapshots.currency,
        buckets.aging_bucket,
        {{ dbt.cast('snapshots.bucket_order', api.Column.translate_type('integer')) }} as bucket_order,
        {{ to_money('snapshots.open_amount') }} as open_amount,
        {{ to_reporting('snapshots.open_amount', 'rates.rate_to_reporting') }} as open_amount_reporting,
        {{ dbt.cast('snapshots.invoice_count', api.Column.translate_type('integer')) }} as invoice_count,
        {{ dbt.cast('snapshots.due_date_missing_count', api.Column.translate_type('integer')) }} as due_date_missing_count,
        rates.rate_to_reporting as fx_rate_snapshot_date,
        (select inputs_loaded_through.loaded_through from inputs_loaded_through) as _inputs_loaded_through
    from snapshots
    inner join buckets
        on snapshots.bucket_order = buckets.bucket_order
    left join {{ ref('int_fx_rates_daily') }} as rates
        on snapshots.currency = rates.currency
        and snapshots.snapshot_date = rates.rate_date

)

select * from final
