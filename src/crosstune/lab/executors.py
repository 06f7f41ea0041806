"""Who runs the work: this process, one task after another, or a Ray cluster, one task each.

A task is a module-level function with JSON-able arguments and a thread count; the executor
only schedules it, so a task gives the same bits wherever it runs (same thread count, torch
version and CPU kind).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crosstune.choices import Executor
from crosstune.errors import CrosstuneError
from crosstune.threads import torch_threads


@dataclass(frozen=True)
class Task:
    """One unit of work: `fn(*args)` under `threads` CPU threads."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    threads: int
    label: str
    local_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra arguments only a local run can pass (callbacks into this process's display)."""


Progress = Callable[[Task], None]


def run_tasks(tasks: list[Task], executor: Executor = "local", address: str | None = None,
              num_gpus: float = 0, progress: Progress | None = None,
              num_cpus: float | None = None) -> None:
    """Run every task (local: in order; ray: as the cluster allows), reporting each as it ends.
    `num_cpus`: CPUs each Ray task requests (default: its thread count)."""
    if executor == "ray":
        _run_ray(tasks, address, num_gpus, progress, num_cpus)
        return
    for task in tasks:
        with torch_threads(task.threads):
            task.fn(*task.args, **task.local_kwargs)
        if progress:
            progress(task)


def _threaded(fn: Callable[..., Any], threads: int, *args: Any) -> Any:
    with torch_threads(threads):
        return fn(*args)


def _run_ray(tasks: list[Task], address: str | None, num_gpus: float,
             progress: Progress | None, num_cpus: float | None = None) -> None:
    """One Ray task each; max_calls=1 gives each a fresh worker (memory returned), and each asks
    for `num_cpus` CPUs, by default as many as its thread count."""
    try:
        import ray
    except ImportError as err:
        raise CrosstuneError("--executor ray needs Ray: pip install 'crosstune[ray]'") from err
    if not tasks:
        return
    started_here = not ray.is_initialized()
    if started_here:
        # A local instance gets enough logical CPUs for the largest task on any machine.
        cpus = None if address else max(os.cpu_count() or 1, *(t.threads for t in tasks),
                                        math.ceil(num_cpus or 1))
        try:
            ray.init(address=address, num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise CrosstuneError(f"cannot start or reach Ray at {address or 'a local instance'}: "
                                 f"{str(err).splitlines()[0][:200]}") from err
    try:
        remote = ray.remote(num_gpus=num_gpus, max_calls=1)(_threaded)
        pending = {remote.options(num_cpus=num_cpus or t.threads).remote(t.fn, t.threads, *t.args): t
                   for t in tasks}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            task = pending.pop(done[0])
            try:
                ray.get(done[0])
            except ray.exceptions.RayTaskError as err:
                if isinstance(err.cause, CrosstuneError):
                    raise CrosstuneError(f"{task.label}: {err.cause}") from err
                raise
            if progress:
                progress(task)
    finally:
        if started_here:
            ray.shutdown()
