{#-
    Words of a text, as the statistics count them: runs of characters other than ASCII
    whitespace (space, tab, newline, CR, VT, FF); a newline between two words counts as a
    space (LLaVA's `<image>\n` opens most first turns). The common case (single spaces, no
    other whitespace) is counted without a regex, which is many times faster at full scale.
    svit stats renders this file with the analyses.
-#}
{% macro word_count(text) -%}
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
