"""``sessions list|show|kill|leaks`` through the debug API (docs/debug-endpoints.md)."""
