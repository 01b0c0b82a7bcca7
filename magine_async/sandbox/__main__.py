"""``python -m magine_async.sandbox``: run the platform sandbox until interrupted."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
