"""``python -m lnta.report``."""
from lnta.cli.report import main

if __name__ == "__main__":
    main()
