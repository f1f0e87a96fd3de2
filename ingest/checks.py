"""Record checks written once, as SQL expressions the readers put into their scans."""

from __future__ import annotations

# The marks of a medium in a turn (LLaVA-NeXT marks a video with <image>), both 7 characters:
# the readers count them by the length they take out of a text.
PLACEHOLDERS = ("<image>", "<video>")


def turn_problem(turn: str, index: str, first_role: str, second_role: str, json_leaves: bool = True) -> str:
    """SQL: why one turn is unusable, or NULL.

    `turn` is a struct of JSON `from` / `value` (NULL when the turn is not an object),
    `index` its 0-based position; turns must alternate first_role / second_role. A JSON
    value is a string exactly when its text starts with a quote, which is cheaper to test
    than json_type on every answer. With `json_leaves=False` the struct holds VARCHAR
    `from` / `value` and the caller has ruled out non-string values another way.
    """
    at = f"'turn ' || {index} || ': '"
    role = f"json_extract_string({turn}.\"from\", '$')" if json_leaves else f'{turn}."from"'
    not_string = (lambda v: f"not starts_with({v}::varchar, '\"')") if json_leaves else (lambda v: "false")
    return f"""
        case
            when {turn} is null or {turn}."from" is null then {at} || 'missing "from"'
            when {not_string(f'{turn}."from"')} then {at} || '"from" is not a string'
            when {role} not in ('{first_role}', '{second_role}')
                then {at} || '"from" is ' || {role} || ', not {first_role}/{second_role}'
            when {role} <> case when {index} % 2 = 0 then '{first_role}' else '{second_role}' end
                then {at} || 'turns do not alternate {first_role}/{second_role}'
            when {turn}."value" is null then {at} || 'missing "value"'
            when {not_string(f'{turn}."value"')} then {at} || '"value" is not a string'
        end
    """


def unknown_image_problem(image_id_json: str, check_images: bool) -> str:
    """SQL: why an SVIT item's image is unusable beyond its type (absent from image_data.json), or NULL.

    `image_id_json` is the item's JSON `image_id`; the known ids are in the table
    `images_known` (ingest/visual_genome.py). Without `check_images` every image is usable.
    """
    if not check_images:
        return "null::varchar"
    return (
        f"case when try_cast({image_id_json} as bigint) not in (select image_id from images_known) "
        f"then 'image_id ' || {image_id_json} || ' is not in image_data.json' end"
    )
