"""Lets `python -m tertulia` run the command line."""

from tertulia.cli import main

raise SystemExit(main())
