"""The worker process: one shard's agents on one Cascade Engine + VM, edge links to
the neighbour shards, the frame loop and the shard log."""
