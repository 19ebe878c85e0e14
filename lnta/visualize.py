"""``python -m lnta.visualize``: an alias of :mod:`lnta.cli.visualize`, where the command lives."""
from lnta.cli.visualize import main

if __name__ == "__main__":
    main()
