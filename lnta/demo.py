"""``python -m lnta.demo``: an alias of :mod:`lnta.cli.demo`, where the command lives."""
from lnta.cli.demo import main

if __name__ == "__main__":
    main()
