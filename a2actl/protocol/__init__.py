"""A2A protocol knowledge as pure data and pure functions: no I/O, no printing.

Facts come from the A2A specification (github.com/a2aproject/A2A: ``docs/specification.md`` and
``specification/a2a.proto`` at tags v0.2.6, v0.3.0, v1.0.0 and v1.0.1); each module names the sections it
follows. Behaviour of the SDKs a2actl is tested against is in ``docs/interop.md``.
"""
