"""Executors turn pending work into shard files; the parent ingests them.

An executor only needs ``run(tasks, results, device, reporter) -> Iterator[Path]``, so a
cluster backend (Ray, SLURM) is a new module that writes shards to a shared folder.
"""

from segbench.execute.local import LocalExecutor, Task

__all__ = ["LocalExecutor", "Task"]
