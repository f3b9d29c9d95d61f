"""``a2actl handshake probe``: discovery, negotiation and the first RPC, timed phase by phase."""
