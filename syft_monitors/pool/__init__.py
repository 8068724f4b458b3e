"""Pooled monitors: one process serving many data owners (see `assignment` for the shard file)."""
