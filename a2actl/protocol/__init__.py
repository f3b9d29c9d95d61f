"""A2A protocol knowledge as pure data and pure functions: no I/O, no printing.

Facts and their sources are in ``../shared/docs/a2a-protocol.md`` (spec tags v0.2.x, v0.3.0, v1.0.0/1.0.1).
"""
