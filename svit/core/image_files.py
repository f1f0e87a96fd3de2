"""What is wrong with an image file, from the table image_files (`svit images`) and the sizes
the metadata gives (svit/core/image_sizes.py): one category per path, the first that applies:

  missing        no file at the path;
  unreadable     a file that is not a decodable image (empty, truncated, not an image,
                 a directory, permission denied, a symlink loop);
  mislabelled    its format (by its first bytes) is not the one its name says (a GIF or a
                 PNG saved as .jpg);
  size_mismatch  its size differs from the one image_data.json or COCO's list gives;
  cmyk           a CMYK image: decoders that expect RGB (torchvision's decode_jpeg, some
                 data loaders) fail or give wrong colours.

`svit images` reports them, `svit check` has a rule per category, a recipe's `images: ok`
keeps only records whose image has none, and `svit stats` profiles the sizes.
"""

from __future__ import annotations

CATEGORIES = ("missing", "unreadable", "mislabelled", "size_mismatch", "cmyk")


def image_problems_sql(image_files: str, sizes_sql: str | None) -> str:
    """A query of (image, category, detail): every path of `image_files` (a relation) with a
    problem; `sizes_sql` (image, width, height) gives the sizes the metadata expects."""
    sizes = sizes_sql or "select null::varchar as image, null::integer as width, null::integer as height where false"
    return f"""
        select f.path as image,
            case
                when not f.exists then 'missing'
                when not f.decodable then 'unreadable'
                when f.format is distinct from f.extension_format then 'mislabelled'
                when m.width is not null and (m.width <> f.width or m.height <> f.height) then 'size_mismatch'
                when f.mode = 'CMYK' then 'cmyk'
            end as category,
            case
                when not f.exists then coalesce(f.error, 'no file')
                when not f.decodable then f.error
                when f.format is distinct from f.extension_format then
                    coalesce(f.format, 'an unknown format') || ' under a name that says '
                    || coalesce(f.extension_format, 'no known format')
                when m.width is not null and (m.width <> f.width or m.height <> f.height) then
                    f.width || 'x' || f.height || ' where the metadata says ' || m.width || 'x' || m.height
                when f.mode = 'CMYK' then 'CMYK ' || f.format
            end as detail
        from {image_files} as f
        left join ({sizes}) as m on m.image = f.path
        where category is not null"""
