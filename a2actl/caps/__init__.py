"""``a2actl caps``: capability schemas. Validate a card against the shipped schemas plus
operational checks, write a normalised snapshot, diff two capability documents, and fingerprint
what an endpoint really speaks. The core never prints; the CLI renders what these return."""
