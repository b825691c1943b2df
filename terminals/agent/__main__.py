"""`python -m terminals.agent`: the local card-reader agent."""

from terminals.agent.cli import main

raise SystemExit(main())
