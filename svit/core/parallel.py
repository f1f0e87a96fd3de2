"""Work handed to a thread pool a few items ahead of the one being used, results in order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(pool: ThreadPoolExecutor, work: Callable[[T], R], items: Iterable[T], ahead: int) -> Iterator[R]:
    """work(item) for each of `items`, run on `pool`, yielded in the items' order. At most `ahead`
    + 1 items are in the pool at once, so a stream (DuckDB's Arrow batches) is read only as fast
    as it is worked on; a worker's error is raised here."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(work, item))
        while len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
