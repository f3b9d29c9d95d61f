"""a2actl: the operator CLI for A2A (Agent2Agent protocol) deployments.

Kept to ``__version__`` only so that ``a2actl --version`` and ``--help`` stay fast.
"""

__version__ = "0.1.0"
