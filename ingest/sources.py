"""Find the input files of a BAAI/SVIT download and open them for DuckDB.

A download holds `data/<task>.json` or the zips BAAI ships (`data/<task>.zip`), maybe
`data/svit.json` (all four tasks in one file), `format/llava-v1.5/*.json`, and the Visual
Genome / COCO annotations under `raw/annotations/`. Zip members are streamed to DuckDB
through a named pipe, so nothing is unpacked to disk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import os
import re
import shutil
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from svit.core.errors import InputError
from svit.core.facts import TASKS
from svit.core.files import sha256_of

# What an input file is; decides which reader takes it.
SVIT_TASK = "svit_task"  # data/<task>.json: one task
SVIT_ALL = "svit_all"  # data/svit.json: the four tasks together
LLAVA = "llava"  # any LLaVA-format JSON array
VG_IMAGE_DATA = "vg_image_data"
VG_OBJECTS = "vg_objects"
VG_REGIONS = "vg_regions"
COCO_CAPTIONS = "coco_captions"


@dataclass(frozen=True)
class InputFile:
    """One input: a JSON file on disk, or a JSON member inside a zip."""

    kind: str
    path: Path
    member: str | None = None  # the JSON member when `path` is a zip
    task: str | None = None  # for SVIT_TASK
    name: str = field(default="")  # stable name: the JSON file name, used in tables
    shape: str = ""  # LLaVA files: the record shape `--format` named (llava, sharegpt, messages); "" = told by the file

    @property
    def display(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    @functools.cached_property
    def size(self) -> int:
        """Bytes of the JSON text (the member's uncompressed size for a zip)."""
        if self.member is None:
            return self.path.stat().st_size
        with zipfile.ZipFile(self.path) as zf:
            return zf.getinfo(self.member).file_size

    def sha256(self, on_chunk: Callable[[bytes], None] | None = None) -> str:
        """Hash of the file as stored (the zip itself for a zip member); `on_chunk` sees its bytes."""
        return sha256_of(self.path, on_chunk)


def model_name(path: Path | str) -> str:
    """A LLaVA file's model name: its stem, lower-cased, other characters as `_` (docs/models.md)."""
    return re.sub(r"[^a-z0-9_]", "_", Path(path).stem.lower())


def _zip_member(zip_path: Path, wanted: str) -> str:
    """The member of a shipped zip that holds `wanted` (possibly inside a folder)."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
    except zipfile.BadZipFile as exc:
        raise InputError(f"{zip_path}: not a readable zip ({exc}); download it again") from exc
    matches = [n for n in names if Path(n).name == wanted]
    if len(matches) != 1:
        found = ", ".join(names[:5]) or "nothing"
        raise InputError(f"{zip_path}: expected one member named {wanted}, found {found}; is this the zip BAAI ships?")
    return matches[0]


def usable(path: Path, name: str | None = None) -> bool:
    """True for a readable regular file, False when nothing is there; InputError for anything else.

    Something at an input's place that cannot be read (a dangling symlink, a loop, a folder,
    a file without read permission) is never passed over: skipping it would drop the source.
    """
    if not os.path.lexists(path):
        return False
    what = None
    try:
        os.stat(path)  # follows symlinks: a dangling one is not found, a loop is ELOOP
        if path.is_dir():
            what = "a folder, not a file"
        elif not path.is_file():
            what = "not a regular file"
        else:
            with open(path, "rb") as fh:
                fh.read(1)
    except FileNotFoundError:
        dangling = path.is_symlink()
        what = f"a symlink to {os.readlink(path)}, which does not exist" if dangling else "gone while being read"
    except OSError as exc:
        what = "a symlink loop" if exc.errno == errno.ELOOP else f"unreadable ({exc.strerror})"
    if what is not None:
        raise InputError(
            f"{path}: {what}; restore the file, or remove the source on purpose with `svit drop {name or path.name}`"
        )
    return True


def discover(source_dir: Path, llava_files: tuple[Path, ...] = (), shape: str = "") -> list[InputFile]:
    """Every input in a download directory, plus extra LLaVA files (read as `shape` when one is
    named, see InputFile.shape), in a fixed order."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise InputError(
            f"{source_dir}: not a folder; give the folder of a BAAI/SVIT download (or an empty one with --llava)"
        )
    inputs: list[InputFile] = []
    data = source_dir / "data"
    for task in TASKS:
        for candidate in (data / f"{task}.json", data / f"{task}.zip"):
            if usable(candidate, f"{task}.json"):
                member = _zip_member(candidate, f"{task}.json") if candidate.suffix == ".zip" else None
                inputs.append(InputFile(SVIT_TASK, candidate, member, task, f"{task}.json"))
                break
    # svit.json repeats the four task files: read it only when none of them is there.
    if not any(i.kind == SVIT_TASK for i in inputs):
        for candidate in (data / "svit.json", data / "svit.zip"):
            if usable(candidate, "svit.json"):
                member = _zip_member(candidate, "svit.json") if candidate.suffix == ".zip" else None
                inputs.append(InputFile(SVIT_ALL, candidate, member, None, "svit.json"))
                break
    for official in sorted((source_dir / "format" / "llava-v1.5").glob("*.json")):
        usable(official)
        inputs.append(InputFile(LLAVA, official, name=official.name))
    vg = source_dir / "raw" / "annotations" / "vg"
    for kind, file_name in (
        (VG_IMAGE_DATA, "image_data.json"),
        (VG_OBJECTS, "objects.json"),
        (VG_REGIONS, "region_descriptions.json"),
    ):
        if usable(vg / file_name):
            inputs.append(InputFile(kind, vg / file_name, name=file_name))
    for captions in sorted((source_dir / "raw" / "annotations" / "coco").glob("captions_*.json")):
        usable(captions)
        inputs.append(InputFile(COCO_CAPTIONS, captions, name=captions.name))
    for extra in llava_files:
        extra = Path(extra)
        if not usable(extra):
            raise InputError(f"{extra}: no such file; give the path of a LLaVA-format JSON file")
        same = [k for k, i in enumerate(inputs) if i.kind == LLAVA and i.path.resolve() == extra.resolve()]
        if same:  # a file of the download given again: read once, as `shape` says
            inputs[same[0]] = dataclasses.replace(inputs[same[0]], shape=shape)
            continue
        inputs.append(InputFile(LLAVA, extra, name=extra.name, shape=shape))
    names = [i.name for i in inputs if i.kind == LLAVA]
    clashes = {model_name(n) for n in names if sum(model_name(m) == model_name(n) for m in names) > 1}
    if clashes:
        raise InputError(f"two LLaVA files map to the same model name {sorted(clashes)}; rename one")
    return inputs


class Feeds:
    """Paths DuckDB can read: the file itself, or a named pipe fed from the zip member.

    A pipe can be read once, so every DuckDB statement that reads inputs runs inside
    `feeding(...)`, which starts a fresh writer for each zip member.
    """

    def __init__(self, inputs: list[InputFile], pipe_dir: Path) -> None:
        self._paths: dict[InputFile, str] = {}
        for index, item in enumerate(inputs):
            if item.member is None:
                self._paths[item] = str(item.path)
            else:
                fifo = pipe_dir / f"{index}-{item.name}"
                os.mkfifo(fifo)
                self._paths[item] = str(fifo)

    def path(self, item: InputFile) -> str:
        return self._paths[item]

    @contextlib.contextmanager
    def feeding(
        self, items: list[InputFile], taps: dict[InputFile, Callable[[bytes], None]] | None = None
    ) -> Iterator[None]:
        """Feed the pipes of `items` while the block runs; a damaged zip is the error raised.

        `taps` see every chunk of a zip member as it goes into its pipe.
        """
        zipped = [item for item in items if item.member is not None]
        errors: list[BaseException] = []
        threads = [
            threading.Thread(
                target=_feed_pipe, args=(item, self._paths[item], errors, (taps or {}).get(item)), daemon=True
            )
            for item in zipped
        ]
        for thread in threads:
            thread.start()
        failure: BaseException | None = None
        try:
            yield
        except BaseException as exc:  # re-raised below, once the writers have stopped
            failure = exc
        finally:
            # A writer whose pipe was never opened (the query failed first) waits in open():
            # opening and closing the other end lets it through, to fail on its first write.
            # It may reach open() only after that, so this repeats until every writer is done.
            for item, thread in zip(zipped, threads, strict=True):
                while thread.is_alive():
                    with contextlib.suppress(OSError):
                        os.close(os.open(self._paths[item], os.O_RDONLY | os.O_NONBLOCK))
                    thread.join(timeout=0.05)
        if errors:
            raise errors[0] from failure
        if failure is not None:
            raise failure


@contextlib.contextmanager
def feeds_for(inputs: list[InputFile], folder: Path) -> Iterator[Feeds]:
    """The pipes live in `folder` (the run's staging snapshot), so a killed run's are removed with it."""
    pipes = folder / ".pipes"
    pipes.mkdir()
    try:
        yield Feeds(inputs, pipes)
    finally:
        shutil.rmtree(pipes, ignore_errors=True)


def _feed_pipe(item: InputFile, fifo: str, errors: list[BaseException], tap: Callable[[bytes], None] | None) -> None:
    try:
        with zipfile.ZipFile(item.path) as zf, zf.open(item.member) as member, open(fifo, "wb") as out:
            while chunk := member.read(1 << 20):
                if tap is not None:
                    tap(chunk)
                out.write(chunk)
    except BrokenPipeError:
        pass  # the reader stopped early; its own error says why
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        errors.append(InputError(f"{item.display}: the zip member is damaged ({exc}); download it again"))
