{#-
    Python's arithmetic as BAAI's tools/expand_to_square.py uses it, in SQL.

    round(x) on a float rounds ties to even on the exact binary value: round_even(x, 0).
    round(p / side, 3) with integers p, side: the nearest thousandth to the double p / side.
    Away from a tie the double and the exact quotient round the same way; at an exact tie
    (p / side == (2k + 1) / 2000) the answer depends on which side of the tie the double
    fell, which the seed python_round3_ties records for every k (made by Python itself):
    `tie_up` is the seed's rounds_up for python_tie_below(p, side), null away from ties.
-#}

{% macro python_round_to_thousandths(p, side, tie_up) -%}
    case
        when ({{ p }} * 1000) % {{ side }} * 2 <> {{ side }}
            then ({{ p }} * 2000 + {{ side }}) // (2 * {{ side }})
        else ({{ p }} * 1000) // {{ side }} + {{ tie_up }}
    end
{%- endmacro %}

{#- The thousandth k when p / side lies exactly on the tie between k/1000 and (k+1)/1000; else null. -#}
{% macro python_tie_below(p, side) -%}
    case when ({{ p }} * 1000) % {{ side }} * 2 = {{ side }} then ({{ p }} * 1000) // {{ side }} end
{%- endmacro %}

{#- repr() of the float k / 1000: `0.0`, `0.5`, `0.662`, `1.0`. DuckDB casts a double to its
    shortest round-trip text, as Python's repr does, and k / 1000 is the double nearest the
    decimal, as Python's round(x, 3) gives it: the same text for every k a double holds
    exactly, below 2^53 (tests/dbt checks every k up to 2 million and samples up to 2^53).
    Cast rather than printed digit by digit: it runs once per coordinate of every referring
    box, and the cast is the cheaper one (bench/README.md, "Build", has the figures). -#}
{% macro python_repr_thousandths(k) -%}
    (({{ k }})::double / 1000)::varchar
{%- endmacro %}
