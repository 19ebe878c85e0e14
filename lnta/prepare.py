"""``python -m lnta.prepare``: an alias of :mod:`lnta.cli.prepare`, where the command lives."""
from lnta.cli.prepare import main

if __name__ == "__main__":
    main()
