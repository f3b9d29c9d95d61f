"""Where dead letters live (file, Redis Streams, the debug API) behind one ``Backend`` protocol, and
the entry format. The server side (``a2actl.server``) may import this package and nothing else of
``a2actl.dlq``."""
