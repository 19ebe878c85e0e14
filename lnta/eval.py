"""``python -m lnta.eval``: an alias of :mod:`lnta.cli.eval`, where the command lives."""
from lnta.cli.eval import main

if __name__ == "__main__":
    main()
