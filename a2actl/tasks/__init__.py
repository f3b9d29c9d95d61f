"""``send`` and ``task get|list|cancel|subscribe``: one task at a time."""
