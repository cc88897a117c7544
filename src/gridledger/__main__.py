"""``python -m gridledger``: the same as the ``gridledger`` console script."""

from gridledger.cli import main

if __name__ == "__main__":
    main()
