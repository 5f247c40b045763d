"""Code both sides of the simulator import: the Cascade runtime, the grid and its
partition, the firefly model, the wire protocol and metric types.

This package never imports ``coordinator`` or ``worker`` (a test checks it).
"""
