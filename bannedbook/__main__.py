"""`python -m bannedbook` is the `bannedbook` command."""

import sys

from bannedbook.cli import main

sys.exit(main())
