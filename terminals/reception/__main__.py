"""`python -m terminals.reception`: the reception terminal's command line."""

from terminals.reception.cli import main

raise SystemExit(main())
