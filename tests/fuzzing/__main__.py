"""`python -m tests.fuzzing --examples 1000`: the long fuzz run (see tests/fuzzing/cli.py)."""

import sys

from tests.fuzzing.cli import main

sys.exit(main())
