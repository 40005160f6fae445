-- E6: the provision matrix covers exactly the open AR of fct_ar_invoices at as_of_date, bucket by
-- bucket (a missing segment or bucket would understate the allowance).
with

exposure as (

    select aging_bucket, sum(exposure_reporting) as exposure_reporting
    from {{ ref('ar_expected_credit_loss') }}
    group by 1

),

open_ar as (

    select aging_bucket, sum(open_amount_reporting) as open_amount_reporting
    from {{ ref('fct_ar_invoices') }}
    where aging_bucket <> 'closed'
    group by 1

),

final as (

    select
        coalesce(exposure.aging_bucket, open_ar.aging_bucket) as aging_bucket,
        exposure.exposure_reporting,
        open_ar.open_amount_reporting
    from exposure
    full outer join open_ar
        on exposure.aging_bucket = open_ar.aging_bucket
    where coalesce(exposure.exposure_reporting, 0) <> coalesce(open_ar.open_amount_reporting, 0)

)

select * from final
