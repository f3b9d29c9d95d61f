"""The Prometheus exporter (``a2actl exporter``, issue #16): blackbox_exporter-style ``/probe`` and an
inventory scraped on a schedule behind ``/metrics``. See docs/monitoring.md."""
