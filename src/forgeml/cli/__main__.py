"""``python -m forgeml.cli``: the same as the ``forgeml`` command."""

from forgeml.cli import main

main()
