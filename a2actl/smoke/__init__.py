"""``a2actl smoke``: scripted CI smoke tests (suite files, runner, JUnit, init)."""
