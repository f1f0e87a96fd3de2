{#-
    Words of a text, as the statistics count them: runs of characters other than ASCII
    whitespace (space, tab, newline, CR, VT, FF), with LLaVA's `<image>` token taken out
    first as a separator, never a word: `<image>\nWhat is it?` has 3 words, `What?\n<image>`
    1, `<image>` 0 (LLaVA's tokenizer_image_token and the `messages` export cut the text at
    the token the same way, so `a<image>b` has 2). A newline between two words counts as a
    space.

    The common cases are counted without a regex, which is many times faster at full scale:
    text without the token; text whose one token stands alone at its start (`<image>\n...`,
    the first turn of most LLaVA records) or end (`...\n<image>`), counted with the token
    and less one. Any other text with the token takes the regex on the text with each
    token made a space. svit stats renders this file with the analyses.

    The same definition is compiled in svit/core/word_counts.py, which counts every turn
    ingest stores (the `words` column of `turns` and `llava_turns`): a change here is a
    change there, and to the tables already ingested (tests hold the two to each other).
-#}
{% macro word_count(text) -%}
    case
        when contains({{ text }}, '<image>')
            and not (strlen({{ text }}) - strlen(replace({{ text }}, '<image>', '')) = 7
                     and (starts_with({{ text }}, '<image>' || chr(10)) or ends_with({{ text }}, chr(10) || '<image>')
                          or {{ text }} = '<image>'))
            then len(regexp_extract_all(replace({{ text }}, '<image>', ' '), '[^ \t\n\r\x0b\x0c]+'))
        else {{ whitespace_word_count(text) }} - case when contains({{ text }}, '<image>') then 1 else 0 end
    end
{%- endmacro %}

{#- Runs of characters other than ASCII whitespace, every run counted (`<image>` too). The
    common case (single spaces, single newlines) is counted without a regex. -#}
{% macro whitespace_word_count(text) -%}
    case
        when {{ text }} = '' then 0
        when not (contains({{ text }}, '  ') or contains({{ text }}, chr(10)) or contains({{ text }}, chr(9))
                  or contains({{ text }}, chr(13)) or contains({{ text }}, chr(11)) or contains({{ text }}, chr(12))
                  or starts_with({{ text }}, ' ') or ends_with({{ text }}, ' '))
            then strlen({{ text }}) - strlen(replace({{ text }}, ' ', '')) + 1
        when not (contains({{ text }}, '  ') or contains({{ text }}, chr(9)) or contains({{ text }}, chr(13))
                  or contains({{ text }}, chr(11)) or contains({{ text }}, chr(12))
                  or contains({{ text }}, ' ' || chr(10)) or contains({{ text }}, chr(10) || ' ') or contains({{ text }}, chr(10) || chr(10))
                  or starts_with({{ text }}, ' ') or ends_with({{ text }}, ' ') or starts_with({{ text }}, chr(10)) or ends_with({{ text }}, chr(10)))
            then strlen({{ text }}) - strlen(replace({{ text }}, ' ', '')) + strlen({{ text }}) - strlen(replace({{ text }}, chr(10), '')) + 1
        else len(regexp_extract_all({{ text }}, '[^ \t\n\r\x0b\x0c]+'))
    end
{%- endmacro %}

{#- The words of `text` in an analysis: ingest's compiled count (svit/core/word_counts.py,
    the same numbers: tests hold the two to each other) where svit stats has given its
    session that function (var `stats_word_count_function`), else word_count() above, as
    `dbt compile` writes the analyses. -#}
{% macro analysis_word_count(text) -%}
    {%- set function = var('stats_word_count_function', none) -%}
    {%- if function -%}
        {{ function }}({{ text }})
    {%- else -%}
        {{ word_count(text) }}
    {%- endif -%}
{%- endmacro %}

{#- For the staging views of the turn tables: the rows of `relation` with a `words` column,
    null in the table files written before ingest counted words (a union by name with an
    empty relation that has the column), and each turn's words as stored, else counted. -#}
{% macro with_stored_words(relation) -%}
    select * from {{ relation }}
    union all by name
    select null::integer as words
    where false
{%- endmacro %}

{% macro stored_or_counted_words(words, text) -%}
    coalesce({{ words }}, {{ word_count(text) }})::integer
{%- endmacro %}
