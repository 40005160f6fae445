-- E6: an allowance is never negative and never exceeds its exposure.
select *
from {{ ref('ar_expected_credit_loss') }}
where allowance_reporting < 0
    or allowance_reporting > exposure_reporting + 0.01
