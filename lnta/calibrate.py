"""``python -m lnta.calibrate``: an alias of :mod:`lnta.cli.calibrate`, where the command lives."""
from lnta.cli.calibrate import main

if __name__ == "__main__":
    main()
