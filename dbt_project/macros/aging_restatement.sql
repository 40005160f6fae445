{#- The inputs whose rows move an aging snapshot (their staging model and landing source), each
    with the business date from which a newly landed row can change history: a document changes
    balances from its document date, an application or write-off from its own date, a rate from
    its rate date. -#}
{% macro aging_restatement_inputs() -%}
    {{ return([
        {'model': 'stg_landing__invoices', 'source': 'invoices', 'date_column': 'document_date'},
        {'model': 'stg_landing__payment_applications', 'source': 'payment_applications', 'date_column': 'applied_date'},
        {'model': 'stg_landing__write_offs', 'source': 'write_offs', 'date_column': 'write_off_date'},
        {'model': 'stg_landing__fx_rates', 'source': 'fx_rates', 'date_column': 'rate_date'},
    ]) }}
{%- endmacro %}

{#- First snapshot day an incremental run of fct_ar_aging_daily must rebuild: the earliest of
    as_of_date, the latest stored day (recomputed, it may have been built before the day's data
    was complete) and the earliest business date of any input row landed after the last build
    (the table's _inputs_loaded_through), or replaced since by a delivery that changed or dropped
    it (landing keeps such a version with _status 'replaced', stamped when replaced: decision L1
    in docs/decisions.md). -#}
{% macro aging_restatement_start(relation) -%}
    {%- set as_of = as_of_date() -%}
    {%- set restated -%}
        (select min(restated_from) from (
        {%- for input in aging_restatement_inputs() %}
            select min({{ input.date_column }}) as restated_from
            from {{ ref(input.model) }}
            where _loaded_at > (select max(_inputs_loaded_through) from {{ relation }})
            union all
            select min({{ input.date_column }}) as restated_from
            from {{ source('landing', input.source) }}
            where _status = 'replaced' and _loaded_at > (select max(_inputs_loaded_through) from {{ relation }})
            {%- if not loop.last %} union all{% endif %}
        {%- endfor %}
        ) as restatements)
    {%- endset -%}
    least(
        {{ as_of }},
        coalesce((select max(snapshot_date) from {{ relation }}), {{ as_of }}),
        coalesce({{ restated }}, {{ as_of }})
    )
{%- endmacro %}
