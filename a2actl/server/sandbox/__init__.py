"""The embedded reference A2A agent (``a2actl sandbox serve``), built on the official ``a2a-sdk``.

A server, not a client: it may import a2a-sdk, starlette and uvicorn (extra ``sandbox``); nothing in
the client layers imports it. ``app.py`` builds the ASGI app from ``SandboxOptions``; ``server.py`` runs
it with uvicorn, in the foreground or in a background thread (tests, ``a2actl demo``).
"""
