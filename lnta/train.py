"""``python -m lnta.train``: an alias of :mod:`lnta.cli.train`, where the command lives."""
from lnta.cli.train import main

if __name__ == "__main__":
    main()
