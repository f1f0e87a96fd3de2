{#-
    Object phrases, for recipes that favour coverage (docs/mixes.md). The phrases are the
    ones SVIT marks itself (`<st>phrase<ed>`, the boxes table): they are the objects GPT-4
    was shown, so they stand for the "key concepts" of SVIT's core-set selection without a
    concept list of our own. A record asks about a phrase when one of its questions (human
    turns) contains the phrase's words in a row, case aside: questions, because the core set
    was chosen for what benchmarks ask about; not answers, which are long (and most of the
    cost: 400M words at full scale against 50M in questions).
-#}

{#- A text as the list of its lower-case words: runs of letters, anything else a separator
    (so "Street-lamp" reads as "street lamp"). Digits are separators too: the box numbers in
    referring questions would otherwise be most of the words to look up (a phrase with a
    number, rare in SVIT, is read without it, the same way in phrases and questions). -#}
{% macro phrase_words(text) -%}
    list_filter(regexp_split_to_array(lower({{ text }}), '[^\pL]+'), lambda w: w <> '')
{%- endmacro %}

{#- The longest phrase matched, in words: question word runs of 1..3 are compared with the
    phrases (real SVIT phrases are short: "clock", "white shirt"). -#}
{% macro max_phrase_words() -%}{{ return(3) }}{%- endmacro %}

{#- One row per (record, phrase) the record's questions name: `key` identifies the record in
    `records` (a relation or CTE with a `conversations` column). -#}
{% macro question_phrases(records, key) -%}
    select distinct grams.key, grams.phrase
    from (
        select key, unnest(list_concat(
            words,
            list_transform(range(1, len(words)), lambda i: words[i] || ' ' || words[i + 1]),
            list_transform(range(1, len(words) - 1), lambda i: words[i] || ' ' || words[i + 1] || ' ' || words[i + 2])
        )) as phrase
        from (
            select key, {{ phrase_words("replace(question.value, '<image>', '')") }} as words
            from (
                select {{ key }} as key, unnest(list_filter(conversations, lambda t: t."from" = 'human')) as question
                from {{ records }}
            )
        )
    ) as grams
    semi join {{ ref('int_object_phrases') }} as phrases on phrases.phrase = grams.phrase
{%- endmacro %}
