"""Fleet probes: the handshake probe, card validation and an optional send over many agents at once
(issue #16). See docs/fleet.md."""
