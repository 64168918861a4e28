"""`python -m bot` is the same as the `incident-bot` command."""
from bot.cli import main

raise SystemExit(main())
