"""`python -m toolkit` is the same as `tk`."""

from toolkit.cli import main

main()
