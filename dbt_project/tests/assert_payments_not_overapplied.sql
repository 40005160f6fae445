{#- No payment has more applied to documents (on or before as_of_date) than was received, beyond
    a tolerance of 0.01 in the payment currency (rounding of split applications in some ERPs).
    An over-applied payment would count cash that never arrived. Returns the offending payments. -#}

select
    payment_id,
    customer_id,
    currency,
    amount,
    applied_amount,
    applied_amount - amount as overapplied_by
from {{ ref('fct_payments') }}
where applied_amount > amount + 0.01
