"""`python -m syft_operator`: the same as the `syft-operator` command."""

from syft_operator.cli import main

if __name__ == "__main__":
    main()
