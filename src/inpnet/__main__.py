"""`python -m inpnet ...` (also what `torchrun -m inpnet train ...` runs)."""

import sys

from inpnet.cli import main

sys.exit(main())
