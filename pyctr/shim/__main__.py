"""Entry point: `python -m pyctr.shim CONFIG_PATH` (see pyctr.shim.main)."""

import sys

from pyctr.shim.main import main

sys.exit(main(sys.argv[1:]))
