"""The only importer of typer: one module per command group, joined in ``app.py``."""
