"""``python -m codetrace``."""

from codetrace.cli import main

main()
