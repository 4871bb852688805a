"""Compatibility re-export: shard file I/O lives in :mod:`segbench.shards` (imported by worker and store)."""

from segbench.shards import atomic_write_bytes, pending_shards, read_shard, shard_dir, write_shard

__all__ = ["atomic_write_bytes", "pending_shards", "read_shard", "shard_dir", "write_shard"]
