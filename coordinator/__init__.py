"""The coordinator process (``sim-coordinator``): one module per concept.

=================  ==================================================================
``cli``            options → RunConfig → Session; the only module that prints
``config``         RunConfig: every option, its default, validation; ShardConfig from it
``session``        one run's lifecycle: build in order, run loop, worker exits, exit code
``stop``           how a run ends: stop request, SetupError, exit codes
``endpoints``      where the sockets listen (private ipc folder or loopback tcp)
``security``       the run's secrets (token, CurveZMQ keys) and each shard's sender
``control``        the control channel: ROUTER socket, token, who may say what
``telemetry``      the telemetry stream: PULL socket, frames and reports checked
``aggregator``     frames and reports → R, interval lines, the run's totals
``quota_desk``     the global quota's coordinator side (``--limit``)
``barrier``        the start barrier: hello → config → bound → peers → links_ready → start
``launcher``       worker processes: spawn, watch, reap
``records``        the run directory: run.json, coordinator.jsonl, summary.json
``console``        printed lines, and the terminal handed to the live view
``view``           the live view (``view.driver`` runs it during a run)
``logtools``       command-line tools over finished run directories (sim-gather, sim-plot)
=================  ==================================================================
"""
