"""The long fuzz run: `./run --group test python bench/fuzz.py --examples 1000` (options: --help).

The fuzzer itself lives in tests/fuzzing/ (the tests run it bounded and seeded); this is
its entry point from the repository root, the same as `python -m tests.fuzzing`.
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo, not bench/
    from tests.fuzzing.cli import main

    sys.exit(main())
