"""The run directory: its schema (``schema``), written by the worker and the
coordinator, read back by ``reading``, reduced to rows by ``rows`` and printed by
``tables``. docs/logs.md is the reader's guide."""
