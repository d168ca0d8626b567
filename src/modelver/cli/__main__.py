"""``python -m modelver.cli``: the same as the ``modelver`` command."""

from modelver.cli.app import main

main()
