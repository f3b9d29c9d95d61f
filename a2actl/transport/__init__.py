"""The only layer that imports httpx, httpx-sse and websockets."""
