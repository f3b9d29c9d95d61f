"""Server-side code for a2a-sdk apps: the sandbox agent and the debug endpoints. May import only
``a2actl.core``, ``a2actl.protocol``, ``a2actl.schemas`` and ``a2actl.dlq.store``; the client never imports it."""
