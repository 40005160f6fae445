{#- The inputs whose rows move an aging snapshot (their landing source), each
    with the business date from which a newly landed row can change history: a document changes
    balances from its document date, an application or write-off from its own date, a rate from
    its rate date. aging_columns, when listed (with the input's business key), are the only columns
    of the input the aging reads: a new version that differs from the one it replaced in other
    columns only (an invoice's exported status or open amount, which move whenever it is paid)
    restates nothing. -#}
{% macro aging_restatement_inputs() -%}
    {{ return([
        {'source': 'invoices', 'key': ['document_id'], 'date_column': 'document_date',
         'aging_columns': ['customer_id', 'document_type', 'currency', 'document_date', 'due_date', 'amount']},
        {'source': 'payment_applications', 'date_column': 'applied_date', 'aging_columns': []},
        {'source': 'write_offs', 'date_column': 'write_off_date', 'aging_columns': []},
        {'source': 'fx_rates', 'date_column': 'rate_date', 'aging_columns': []},
    ]) }}
{%- endmacro %}

{#- SQL: the latest landing time of the aging's inputs, versions replaced since included (landing
    stamps a replaced version with the time it was replaced: decision L1 in docs/decisions.md). -#}
{% macro aging_inputs_loaded_through() -%}
    (select max(_loaded_at) from (
        {%- for input in aging_restatement_inputs() %}
        select max(_loaded_at) as _loaded_at from {{ source('landing', input.source) }}
        where _status in ('accepted', 'replaced')
        {%- if not loop.last %} union all{% endif %}
        {%- endfor %}
    ) as loads)
{%- endmacro %}

{#- First snapshot day an incremental run of fct_ar_aging_daily must rebuild: the earliest of
    as_of_date, the latest stored day (recomputed, it may have been built before the day's data
    was complete) and the earliest business date of any input row that landed, or was replaced
    by a delivery that changed or dropped it, after the last build (the table's
    _inputs_loaded_through). A new version and the version it replaced that agree on the input's
    aging_columns move nothing, and are left out. -#}
{% macro aging_restatement_start(relation) -%}
    {%- set as_of = as_of_date() -%}
    {%- set since = '(select max(_inputs_loaded_through) from ' ~ relation ~ ')' -%}
    {%- set restated -%}
        (select min(restated_from) from (
        {%- for input in aging_restatement_inputs() %}
            {%- set landing = source('landing', input.source) %}
            select min(landed.{{ input.date_column }}) as restated_from
            from {{ landing }} as landed
            where landed._status in ('accepted', 'replaced') and landed._loaded_at > {{ since }}
            {%- if input.aging_columns %}
                and not exists (
                    select 1 from {{ landing }} as twin
                    where twin._status in ('accepted', 'replaced') and twin._status <> landed._status
                        and twin._loaded_at > {{ since }}
                        {%- for column in input.key + input.aging_columns %}
                        and twin.{{ column }} is not distinct from landed.{{ column }}
                        {%- endfor %}
                )
            {%- endif %}
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
