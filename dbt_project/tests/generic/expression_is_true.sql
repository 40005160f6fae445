{#- A row rule: returns the rows of the model for which the SQL expression is not true
    (false or null), e.g. 'amount > 0' or 'applied_amount <= amount + 0.01'. -#}
{% test expression_is_true(model, expression) %}

with

final as (

    select * from {{ model }}
    where not coalesce({{ expression }}, false)

)

select * from final

{% endtest %}
