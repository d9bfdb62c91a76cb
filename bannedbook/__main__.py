"""`python -m bannedbook` is the `bannedbook` command."""

import sys

from .cli import main

sys.exit(main())
