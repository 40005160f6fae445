{#- Collection (dunning) stages, validated once here so every model reads them the same way
    (DECISIONS.md C1-C4; var collection_stages, inflow.yml section `collections:`).

    collection_stage_levels(stages) turns the configured list into levels 1..n, each
    {level, name, days_past_due, keywords}: names are lowercase identifiers other than the
    reserved 'current' (level 0, nothing reached yet) and 'closed'; days_past_due are whole numbers
    >= 1, strictly ascending; keywords are lowercase text without quotes or LIKE wildcards. Anything else fails the
    run naming the value (inflow.yml is validated the same way at start; this guards unit tests
    and hand-set vars). -#}
{% macro collection_stage_levels(stages) -%}
    {%- if stages is string or stages is mapping or stages is not iterable or stages | length == 0 -%}
        {{ exceptions.raise_compiler_error("inflow: collection_stages must be a non-empty list of stages, got " ~ stages) }}
    {%- endif -%}
    {%- set out = [] -%}
    {%- set previous = namespace(days=0, names=['current', 'closed']) -%}
    {%- for stage in stages -%}
        {%- set name = stage.get('name') if stage is mapping else none -%}
        {%- set days = stage.get('days_past_due') if stage is mapping else none -%}
        {%- set keywords = stage.get('activity_keywords', []) if stage is mapping else none -%}
        {%- if name is not string or not modules.re.match('^[a-z][a-z0-9_]*$', name) or name in previous.names -%}
            {{ exceptions.raise_compiler_error("inflow: collection_stages: each stage needs a new lowercase name (not current or closed), got " ~ stage) }}
        {%- endif -%}
        {%- if days is not number or days is sameas true or days != days | int or days <= previous.days -%}
            {{ exceptions.raise_compiler_error("inflow: collection_stages: days_past_due must be whole numbers >= 1, strictly ascending, got " ~ stage) }}
        {%- endif -%}
        {%- if keywords is string or keywords is not iterable -%}
            {{ exceptions.raise_compiler_error("inflow: collection_stages: activity_keywords must be a list, got " ~ stage) }}
        {%- endif -%}
        {%- for keyword in keywords -%}
            {%- if keyword is not string or not modules.re.match('^[a-z0-9][a-z0-9 .:/-]*$', keyword) -%}
                {{ exceptions.raise_compiler_error("inflow: collection_stages: keywords are lowercase letters, digits, spaces and . : / -, got " ~ stage) }}
            {%- endif -%}
        {%- endfor -%}
        {%- do out.append({'level': loop.index, 'name': name, 'days_past_due': days | int, 'keywords': keywords}) -%}
        {%- set previous.days = days | int -%}
        {%- do previous.names.append(name) -%}
    {%- endfor -%}
    {{ return(out) }}
{%- endmacro %}

{#- The configured levels as rows (stage_level, stage, days_past_due), for joins. -#}
{% macro collection_stage_rows(levels) -%}
    {%- for l in levels %}
    select
        {{ l.level }} as stage_level,
        {{ dbt.string_literal(l.name) }} as stage,
        {{ l.days_past_due }} as days_past_due
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- The highest level whose keywords a text names (case-insensitive substring), else null. -#}
{% macro collection_stage_named_in(text_expression, levels) -%}
    {%- if levels | map(attribute='keywords') | map('length') | sum == 0 -%}
    {{ dbt.cast('null', api.Column.translate_type('integer')) }}
    {%- else -%}
    case
    {%- for l in levels | reverse %}
    {%- for keyword in l.keywords %}
        when lower({{ text_expression }}) like {{ dbt.string_literal('%' ~ keyword ~ '%') }} then {{ l.level }}
    {%- endfor %}
    {%- endfor %}
    end
    {%- endif -%}
{%- endmacro %}

{#- A level number as its stage name: 0 'current', then the configured names. -#}
{% macro collection_stage_name(level_expression, levels) -%}
    case {{ level_expression }}
        when 0 then 'current'
    {%- for l in levels %}
        when {{ l.level }} then {{ dbt.string_literal(l.name) }}
    {%- endfor %}
    end
{%- endmacro %}
