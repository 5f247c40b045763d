"""Command-line tools over finished run directories, installed with the package:
``sim-gather`` (:mod:`.gather`: tables, CSV/JSON, plots) and ``sim-plot``
(:mod:`.plot`: the four PNGs of one run), plus the benchmark sweeps' shared pieces
(:mod:`.sweep`). The reading and the figures live in :mod:`shared.runlog`; these
modules parse options, print and write files. docs/gather.md is the guide."""
