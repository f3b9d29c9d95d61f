"""Shared foundations every layer may import: settings, errors and exit codes, the verbose sink,
units (durations, sizes), redaction, statistics. Nothing here does I/O beyond reading files."""
