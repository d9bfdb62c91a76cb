"""The build's worker processes: a multiprocessing pool whose workers do not
wait on the writer.

A pool's workers hand their results to the writer's process through one
pipe (Linux gives it 64 KiB: a handful of extracted pages), and a worker
blocks while the pipe is full. The writer's process empties it in a thread
that needs the GIL, which the writer holds while it binds a batch of rows:
with the stock pipe the workers spent a fifth of their time blocked on it
(benchmarks/profile_build.py: "sending results to the writer"). A pipe of
1 MiB, the most Linux allows without privileges, holds what they make in
the meantime.
"""

from __future__ import annotations

import os
from multiprocessing import Pool
from multiprocessing.pool import Pool as PoolType

RESULT_PIPE_BYTES = 1 << 20


def make_pool(processes: int | None = None) -> PoolType:
    """A process pool (every core by default) with room for its results."""
    pool = Pool(processes or os.cpu_count())
    widen_result_pipe(pool)
    return pool


def widen_result_pipe(pool: PoolType, size: int = RESULT_PIPE_BYTES) -> int | None:
    """Give the pool's result pipe `size` bytes where the system allows it;
    returns the size it has, or None where it cannot be changed (not Linux,
    or a pool without a pipe): a smaller pipe is only slower."""
    try:
        import fcntl

        reader = pool._outqueue._reader.fileno()
        fcntl.fcntl(reader, fcntl.F_SETPIPE_SZ, size)
        return fcntl.fcntl(reader, fcntl.F_GETPIPE_SZ)
    except (ImportError, AttributeError, OSError):
        return None
