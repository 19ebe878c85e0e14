"""``python -m lnta.score``: an alias of :mod:`lnta.cli.score`, where the command lives."""
from lnta.cli.score import main

if __name__ == "__main__":
    main()
