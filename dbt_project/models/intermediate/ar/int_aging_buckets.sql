{#- The configured aging buckets as a table: order, label and the inclusive range of aging days
    each holds (null = unbounded). fct_ar_invoices labels with the same bounds (aging_bucket_case);
    fct_ar_aging_daily intersects invoices' open periods with these ranges. -#}
{%- set buckets = aging_bucket_bounds(var('aging_buckets')) -%}

with

bounds as (

    {%- for b in buckets %}
    select
        {{ b.order }} as bucket_order,
        '{{ b.label }}' as aging_bucket,
        {{ b.min_days if b.min_days is not none else 'null' }} as min_days,
        {{ b.max_days if b.max_days is not none else 'null' }} as max_days
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

final as (

    select
        {{ dbt.cast('bucket_order', api.Column.translate_type('integer')) }} as bucket_order,
        {{ dbt.cast('aging_bucket', api.Column.translate_type('string')) }} as aging_bucket,
        {{ dbt.cast('min_days', api.Column.translate_type('integer')) }} as min_days,
        {{ dbt.cast('max_days', api.Column.translate_type('integer')) }} as max_days
    from bounds

)

select * from final
