"""Run episode jobs in this process or in a pool of worker processes, with a progress bar.

Simulator work (data collection, evaluation) is one job per episode; each worker builds its
simulator once in ``initializer``. Workers are spawned, not forked, so MuJoCo's GL context and
torch's thread pools start clean in each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import multiprocessing as mp
from typing import Any, TypeVar

_Job = TypeVar('_Job')
_Result = TypeVar('_Result')


def map_episodes(fn: Callable[[_Job], _Result], jobs: Sequence[_Job], workers: int,
                 initializer: Callable[..., Any], initargs: Sequence[Any], desc: str,
                 progress: bool = True) -> list[_Result]:
    """Results of ``fn(job)`` for every job (in completion order when ``workers`` > 1)."""
    # deferred: progress bars only for long work; core stays dependency-light
    from tqdm import tqdm

    results = []
    bar = tqdm(total=len(jobs), desc=desc, unit='ep', disable=not progress,
               dynamic_ncols=True)
    if jobs and workers <= 1:
        initializer(*initargs)
        for job in jobs:
            results.append(fn(job))
            bar.update(1)
    elif jobs:
        with mp.get_context('spawn').Pool(workers, initializer=initializer,
                                          initargs=initargs) as pool:
            for result in pool.imap_unordered(fn, jobs):
                results.append(result)
                bar.update(1)
    bar.close()
    return results
