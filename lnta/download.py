"""``python -m lnta.download``: an alias of :mod:`lnta.cli.download`, where the command lives."""
from lnta.cli.download import run

if __name__ == "__main__":
    run()
