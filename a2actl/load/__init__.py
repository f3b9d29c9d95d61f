"""``a2actl load``: load-test an A2A agent.

Closed (``-c N`` workers) and open (``--rate R/s``) load models, A2A scenarios (card, handshake,
send, stream, get), per-request metrics, HDR-histogram reports that merge exactly across runs, and
k6-style thresholds. ``a2actl.load.locust`` is the Locust plugin (``a2actl[locust]``); nothing else
imports it. See docs/load.md.
"""
