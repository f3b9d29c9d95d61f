"""``python -m a2actl``."""

from a2actl.cli.app import main

if __name__ == "__main__":
    main()
