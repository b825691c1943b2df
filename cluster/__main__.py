"""`python -m cluster`: the loopback cluster (see the package docstring)."""

import sys

from cluster.run import main

sys.exit(main())
