{#- A composite business key: no two rows share the same values of all the given columns.
    Returns one row per duplicated key with how many times it occurs. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

keyed as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}

),

final as (

    select * from keyed
    where occurrences > 1

)

select * from final

{% endtest %}
