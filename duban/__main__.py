"""``python -m duban``: the same console script (used for supervised children)."""

from duban.cli import main

main()
