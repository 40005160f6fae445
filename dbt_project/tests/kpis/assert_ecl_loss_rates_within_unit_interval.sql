-- E3/E5: roll and loss rates are shares in [0, 1], and the loss rate respects the floor.
select *
from {{ ref('ar_expected_credit_loss') }}
where roll_rate < 0 or roll_rate > 1
    or loss_rate < 0 or loss_rate > 1
    or loss_rate < {{ var('ecl_loss_rate_floor') }}
    or loss_rate is null
