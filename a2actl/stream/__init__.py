"""Streams: ``stream tail`` (SSE and WebSocket) with heartbeats, gaps, sizes, reconnects and a lifecycle audit."""
