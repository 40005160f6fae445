{#- For every day the aging history holds (min to max snapshot_date, empty days included), the
    sum over buckets per currency equals the outstanding balance of that day recomputed from the
    invoice events alone: the running total of every event dated on or before the day, plus
    back the over-applied part of invoices that were below zero that day (open balances are
    floored at zero). Holds after incremental runs too, because back-dated landings restate
    the days they change. Returns the days and currencies that do not tie. -#}

with

event_days as (

    select
        currency,
        event_date,
        sum(amount_signed) as amount
    from {{ ref('int_invoice_events') }}
    group by currency, event_date

),

event_levels as (

    select
        currency,
        event_date as level_start,
        lead(event_date) over (partition by currency order by event_date) as level_end,
        sum(amount) over (
            partition by currency order by event_date
            rows between unbounded preceding and current row
        ) as outstanding
    from event_days

),

overapplied_periods as (

    select
        invoices.currency,
        changes.change_date as level_start,
        changes.next_change_date as level_end,
        -changes.balance_after as overapplied
    from {{ ref('int_invoice_balance_changes') }} as changes
    inner join {{ ref('int_invoices') }} as invoices
        on changes.invoice_id = invoices.invoice_id
    where changes.balance_after < 0

),

aging as (

    select
        snapshot_date,
        currency,
        sum(open_amount) as open_amount
    from {{ ref('fct_ar_aging_daily') }}
    group by snapshot_date, currency

),

days as (

    {{ day_spine(
        '(select min(snapshot_date) from ' ~ ref('fct_ar_aging_daily') ~ ')',
        '(select max(snapshot_date) from ' ~ ref('fct_ar_aging_daily') ~ ')') }}

),

expected as (

    select
        days.date_day as snapshot_date,
        event_levels.currency,
        event_levels.outstanding
            + coalesce((
                select sum(overapplied_periods.overapplied)
                from overapplied_periods
                where overapplied_periods.currency = event_levels.currency
                    and overapplied_periods.level_start <= days.date_day
                    and (overapplied_periods.level_end is null or overapplied_periods.level_end > days.date_day)
            ), 0) as open_amount
    from days
    inner join event_levels
        on days.date_day >= event_levels.level_start
        and (event_levels.level_end is null or days.date_day < event_levels.level_end)

),

final as (

    select
        coalesce(expected.snapshot_date, aging.snapshot_date) as snapshot_date,
        coalesce(expected.currency, aging.currency) as currency,
        expected.open_amount as expected_open_amount,
        aging.open_amount as aging_open_amount
    from expected
    full outer join aging
        on expected.snapshot_date = aging.snapshot_date
        and expected.currency = aging.currency
    where coalesce(expected.open_amount, 0) <> coalesce(aging.open_amount, 0)

)

select * from final
