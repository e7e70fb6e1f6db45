"""`python -m app` runs the `convene` command."""

from app.cli import main

raise SystemExit(main())
