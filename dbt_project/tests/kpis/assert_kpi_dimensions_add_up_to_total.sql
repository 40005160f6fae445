-- D8: every month, the segments, the collectors and the customers each add up to the total
-- (sales, AR, current AR and collections), so no customer falls out of a dimension.
with

kpis as (

    select * from {{ ref('ar_kpis_monthly') }}

),

totals as (

    select month_end, credit_sales_reporting, ar_reporting, current_ar_reporting,
        cash_applied_reporting
    from kpis
    where dimension_type = 'total'

),

by_dimension as (

    select
        dimension_type,
        month_end,
        sum(credit_sales_reporting) as credit_sales_reporting,
        sum(ar_reporting) as ar_reporting,
        sum(current_ar_reporting) as current_ar_reporting,
        sum(cash_applied_reporting) as cash_applied_reporting
    from kpis
    where dimension_type <> 'total'
    group by 1, 2

),

final as (

    select by_dimension.*, totals.ar_reporting as total_ar_reporting
    from by_dimension
    left join totals
        on by_dimension.month_end = totals.month_end
    where totals.month_end is null
        or by_dimension.credit_sales_reporting <> totals.credit_sales_reporting
        or by_dimension.ar_reporting <> totals.ar_reporting
        or by_dimension.current_ar_reporting <> totals.current_ar_reporting
        or by_dimension.cash_applied_reporting <> totals.cash_applied_reporting

)

select * from final
