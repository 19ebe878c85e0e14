"""``python -m lnta.export``: an alias of :mod:`lnta.cli.export`, where the command lives."""
from lnta.cli.export import main

if __name__ == "__main__":
    main()
