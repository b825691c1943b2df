"""`python -m facematch` (see `facematch._cli`)."""

import sys

from ._cli import main

sys.exit(main())
