"""``python -m lnta.bench``."""
from lnta.cli.bench import main

if __name__ == "__main__":
    main()
