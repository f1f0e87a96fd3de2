-- Macros shared by the ingest queries, so each rule is written once.
-- Offsets are 0-based character (code point) offsets, as Python's str indexes count them.

-- Referring-QA marks: `<st>phrase<ed> [x1, y1, x2, y2](, [..])*`, one struct per `<st>`.
-- `boxes_text` is the run of boxes after `<ed>` (without the one leading space);
-- `boxes_offset` is where it starts in the turn.
create or replace macro svit_marks(txt) as (
    list_transform(
        string_split(txt, '<st>')[2:],
        lambda piece, i: {
            'mark_index': i - 1,
            'mark_offset': coalesce(list_sum(list_transform(string_split(txt, '<st>')[1:i], lambda s: length(s))), 0) + 4 * (i - 1),
            'closed': strpos(piece, '<ed>') > 0,
            'phrase': piece[1:strpos(piece, '<ed>') - 1],
            'lead': length(regexp_extract(piece[strpos(piece, '<ed>') + 4:], '^ ?')),
            'boxes_text': regexp_extract(piece[strpos(piece, '<ed>') + 4:], '^ ?((?:\[[^\]\[]*\])(?:, \[[^\]\[]*\])*)', 1)
        }
    )
);

-- The boxes of one mark: each box's text, its offset from the start of the box run, its numbers.
create or replace macro svit_mark_boxes(boxes_text) as (
    list_transform(
        regexp_extract_all(boxes_text, '\[[^\]\[]*\]'),
        lambda box, k: {
            'box_index': k - 1,
            'box_text': box,
            'rel_offset': coalesce(list_sum(list_transform(regexp_extract_all(boxes_text, '\[[^\]\[]*\]')[1:k - 1], lambda b: length(b) + 2)), 0),
            'v': list_transform(string_split(box[2:-2], ', '), lambda n: try_cast(n as double))
        }
    )
);

-- Why one box is unusable, or NULL. BAAI's converter only touches `[n, n, n, n]` with digits and dots.
create or replace macro svit_box_problem(box_text, v) as (
    case
        when not regexp_full_match(box_text, '\[[0-9.]+, [0-9.]+, [0-9.]+, [0-9.]+\]') or len(v) <> 4 or list_contains(v, null)
            then 'malformed box ' || box_text
        when list_min(v) < 0 or list_max(v) > 1 then 'box ' || box_text || ' outside 0..1'
        when v[3] < v[1] then 'box ' || box_text || ' has x2 < x1'
        when v[4] < v[2] then 'box ' || box_text || ' has y2 < y1'
    end
);

-- Why a referring turn's marks are unusable, or NULL: the first problem found.
create or replace macro svit_referring_problem(txt) as (
    coalesce(
        list_filter(
            list_transform(svit_marks(txt), lambda m:
                case when not m.closed then 'unclosed <st> at offset ' || m.mark_offset::varchar end),
            lambda r: r is not null)[1],
        case when length(txt) - length(replace(txt, '<ed>', '')) > length(txt) - length(replace(txt, '<st>', ''))
            then '<ed> without <st>' end,
        list_filter(
            flatten(list_transform(svit_marks(txt), lambda m:
                list_transform(svit_mark_boxes(m.boxes_text), lambda b: svit_box_problem(b.box_text, b.v)))),
            lambda r: r is not null)[1]
    )
);

-- Why a list of turns (structs of JSON `from` / `value`) is unusable, or NULL.
-- `first_role` / `second_role`: user/gpt for SVIT's original files, human/gpt for LLaVA files.
create or replace macro svit_turns_problem(turns, first_role, second_role) as (
    case
        when turns is null then 'no turn list'
        when len(turns) = 0 then 'empty turn list'
        else coalesce(list_filter(list_transform(turns, lambda t, i:
            case
                when t is null or t."from" is null then 'turn ' || (i - 1)::varchar || ': missing "from"'
                when json_type(t."from") <> 'VARCHAR' then 'turn ' || (i - 1)::varchar || ': "from" is not a string'
                when json_extract_string(t."from", '$') not in (first_role, second_role)
                    then 'turn ' || (i - 1)::varchar || ': "from" is ' || (json_extract_string(t."from", '$')) || ', not ' || first_role || '/' || second_role
                when json_extract_string(t."from", '$') <> case when i % 2 = 1 then first_role else second_role end
                    then 'turn ' || (i - 1)::varchar || ': turns do not alternate ' || first_role || '/' || second_role
                when t."value" is null then 'turn ' || (i - 1)::varchar || ': missing "value"'
                when json_type(t."value") <> 'VARCHAR' then 'turn ' || (i - 1)::varchar || ': "value" is not a string'
            end), lambda r: r is not null)[1], null)
    end
);
