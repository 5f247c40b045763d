"""The run directory: its schema (``schema``, the one definition), written by the
worker and the coordinator; read back line by line (``lines``) and as a whole run
(``reading``), reduced to rows of figures (``rows``) and rendered as tables, CSV and
JSON (``tables``). docs/logs.md is the reader's guide, docs/gather.md the tools'.
Nothing here imports ``coordinator`` or ``worker``, and nothing prints."""
