"""Dead letters: the entry format, backends (file, Redis, HTTP) and replay with a journal."""
