"""Reading one image file for `svit images`: what is at a path, without writing anything.

The format comes from the file's first bytes (its magic number), not its name; the size, mode
and frame count from Pillow's reading of the header. A JPEG, PNG or GIF whose end marker is
missing (a download cut short) is not decodable, which a header alone would not show; `decode`
decodes the whole image as well. Every failure is a row with `error`, never an exception.
"""

from __future__ import annotations

import hashlib
import os

# Magic numbers of the formats trainers meet, as Pillow names them.
MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
EXTENSIONS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".gif": "GIF",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
# What a complete file ends with, per format (JPEG: end-of-image; PNG: the IEND chunk; GIF: trailer).
# JPEG writers may pad after the marker, so it is looked for in the last TAIL bytes.
ENDINGS = {"JPEG": b"\xff\xd9", "PNG": b"IEND\xaeB`\x82", "GIF": b";"}
TAIL = 32

COLUMNS = (
    "path",
    "exists",
    "bytes",
    "mtime_ns",
    "format",
    "extension_format",
    "width",
    "height",
    "mode",
    "frames",
    "decodable",
    "decoded",
    "error",
    "sha256",
)


def magic_format(head: bytes) -> str | None:
    for magic, name in MAGIC:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def scan_file(root: str, path: str, decode: bool = False, with_hash: bool = False) -> tuple:
    """One row of image_files (COLUMNS) for `path` under `root`."""
    row = dict.fromkeys(COLUMNS)
    row["path"], row["exists"], row["decodable"], row["decoded"] = path, False, False, decode
    row["extension_format"] = EXTENSIONS.get(os.path.splitext(path)[1].lower())
    full = os.path.join(root, path)
    try:
        st = os.stat(full)
    except FileNotFoundError:
        return tuple(row.values())
    except OSError as exc:  # a symlink loop, a denied folder, a path through a file
        row["error"] = _why(exc)
        return tuple(row.values())
    row["exists"], row["bytes"], row["mtime_ns"] = True, st.st_size, st.st_mtime_ns
    if not os.path.isfile(full):
        row["error"] = "not a file (a directory or a device)"
        return tuple(row.values())
    if st.st_size == 0:
        row["error"] = "empty file (0 bytes)"
        return tuple(row.values())
    try:
        with open(full, "rb") as f:
            head = f.read(32)
            row["format"] = magic_format(head)
            f.seek(max(0, st.st_size - TAIL))
            tail = f.read(TAIL)
            if with_hash:
                f.seek(0)
                row["sha256"] = hashlib.file_digest(f, "sha256").hexdigest()
            f.seek(0)
            _read_image(f, row, tail, decode)
    except OSError as exc:
        row["error"] = _why(exc)
    return tuple(row.values())


def _read_image(f, row: dict, tail: bytes, decode: bool) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(f) as image:
            row["width"], row["height"] = image.size
            row["mode"] = image.mode
            row["frames"] = getattr(image, "n_frames", 1)
            ending = ENDINGS.get(row["format"] or "")
            if ending is not None and ending not in tail:
                row["error"] = f"truncated: the {row['format']} end marker is missing"
                return
            if decode:
                image.load()
    except UnidentifiedImageError:
        row["error"] = "not an image Pillow can read" + (f" ({row['format']})" if row["format"] else "")
        return
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        row["error"] = f"cannot decode: {exc}"
        return
    row["decodable"] = True


def _why(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    return (exc.strerror or str(exc)).lower()


def scan_chunk(args: tuple[str, list[str], bool, bool]) -> list[tuple]:
    """scan_file over a list of paths (one task of the process pool)."""
    root, paths, decode, with_hash = args
    return [scan_file(root, p, decode, with_hash) for p in paths]


def stat_keys(root: str, paths: list[str]) -> list[tuple[int, int] | None]:
    """(size, mtime_ns) of the file at each path, or None: what decides whether a rerun reads it
    again. Relative to an open descriptor of `root`, which spares resolving it for every path."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    keys: list[tuple[int, int] | None] = []
    try:
        for path in paths:
            try:
                st = os.stat(path, dir_fd=fd)
            except OSError:
                keys.append(None)
                continue
            keys.append((st.st_size, st.st_mtime_ns))
    finally:
        os.close(fd)
    return keys
