"""``python -m asyncconv`` is the ``asyncconv`` command."""

import sys

from asyncconv.cli import main

main(sys.argv[1:])
