"""What the benchmarks share: start threads together and time them to the last one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def run_together(targets: list[Callable[[], None]]) -> float:
    """Run every target on its own thread, released at the same moment; returns the seconds
    from the release until the last one finished."""
    barrier = threading.Barrier(len(targets) + 1)

    def run(target: Callable[[], None]) -> None:
        barrier.wait()
        target()

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started
