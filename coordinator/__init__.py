"""The coordinator process: CLI, partition and launch, control channel, telemetry,
run directory (and, with --limit, the quota broker)."""
