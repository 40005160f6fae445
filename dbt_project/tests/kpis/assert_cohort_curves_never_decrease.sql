-- K9: a cohort's cumulative collected share never falls from one month since billing to the next
-- (beyond a reversal of a cent's rounding).
with

curves as (

    select
        dimension_type,
        dimension_value,
        cohort_month,
        months_since_billing,
        collected_reporting,
        lag(collected_reporting) over (
            partition by dimension_type, dimension_value, cohort_month
            order by months_since_billing
        ) as previous_collected_reporting
    from {{ ref('billing_cohort_collection_curves') }}

),

final as (

    select * from curves
    where collected_reporting < previous_collected_reporting - 0.01

)

select * from final
