"""``python -m lnta.convert``: an alias of :mod:`lnta.cli.convert`, where the command lives."""
from lnta.cli.convert import main

if __name__ == "__main__":
    main()
