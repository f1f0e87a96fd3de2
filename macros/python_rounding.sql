{#-
    Python's arithmetic as BAAI's tools/expand_to_square.py uses it, in SQL.

    round(x) on a float rounds ties to even on the exact binary value: round_even(x, 0).
    round(p / side, 3) with integers p, side: the nearest thousandth to the double p / side.
    Away from a tie the double and the exact quotient round the same way; at an exact tie
    (p / side == (2k + 1) / 2000) the answer depends on which side of the tie the double
    fell, which python_round3_ties() records for every k (made by Python itself).

    These run inside list lambdas, once per coordinate of every referring box: what they look
    up is a constant in the SQL (a table joined per coordinate was most of the conversion's
    cost, bench/README.md "The referring boxes converted in their turn").
-#}

{#- Character k + 1 is `1` when Python's round((2k + 1) / 2000, 3), the tie between k/1000 and
    (k + 1)/1000, rounds up, `0` when it rounds down, for k in 0..1000: Python decides it from
    the binary double, not the decimal (round(530 / 800, 3) == 0.662). Made with Python;
    tests/dbt/test_constants.py checks every k against Python. -#}
{% macro python_round3_ties() -%}
    {{-
        '1111000010101010110010011001100111100001111000011110000111100001111111000000001111111100000000111111'
        ~ '1100000001111111100000000111111111111111100000000000000011111111111111110000000000000001111111111111'
        ~ '1110000000000000000111111111111111000000000000000011111111111111111111111111111110000000000000000000'
        ~ '0000000000000111111111111111111111111111111100000000000000000000000000000001111111111111111111111111'
        ~ '1111110000000000000000000000000000000111111111111111111111111111111110000000000000000000000000000000'
        ~ '0000000000000000000000000000000000000000000000000000000000000001111111111111111111111111111111111111'
        ~ '1111111111111111111111111000000000000000000000000000000000000000000000000000000000000001111111111111'
        ~ '1111111111111111111111111111111111111111111111111100000000000000000000000000000000000000000000000000'
        ~ '0000000000000111111111111111111111111111111111111111111111111111111111111110000000000000000000000000'
        ~ '0000000000000000000000000000000000000111111111111111111111111111111111111111111111111111111111111111'
        ~ '0'
    -}}
{%- endmacro %}

{#- round(p / side, 3) * 1000 as Python computes it, for integers p >= 0, side > 0: the
    thousandths below, one more past the half, and at an exact half what python_round3_ties()
    says. Arithmetic and a constant list, no CASE: inside a lambda that was faster. Null where
    p / side is past 1.001 (beyond the image: never in SVIT), which the list does not cover. -#}
{% macro python_round_to_thousandths(p, side) -%}
    (({{ p }}) * 1000 // {{ side }}
        + (({{ p }}) * 1000 % {{ side }} * 2 > {{ side }})::integer
        + (({{ p }}) * 1000 % {{ side }} * 2 = {{ side }})::integer
        * [{{ python_round3_ties() | list | join(', ') }}][({{ p }}) * 1000 // {{ side }} + 1])
{%- endmacro %}

{#- repr() of the float k / 1000: `0.0`, `0.5`, `0.662`, `1.0`. From 0 to 1000 (every coordinate
    on the image) a constant list of Python's own texts, written by Jinja's str() of k / 1000;
    beyond, DuckDB's cast of the double, which is its shortest round-trip text as Python's
    repr is, and k / 1000 is the double nearest the decimal, as Python's round(x, 3) gives it
    (tests/dbt checks every k up to 2 million and samples up to 2^53). -#}
{% macro python_repr_thousandths(k) -%}
    case
        when ({{ k }}) between 0 and 1000
            then [{% for j in range(1001) %}'{{ j / 1000 }}'{{ ', ' if not loop.last }}{% endfor %}][({{ k }}) + 1]
        else (({{ k }})::double / 1000)::varchar
    end
{%- endmacro %}
