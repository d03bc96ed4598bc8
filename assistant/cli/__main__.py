"""`python -m assistant.cli`: the `shopassist` command.

Guarded, so that walking the package's modules (`pkgutil.walk_packages`) imports it harmlessly.
"""

import sys

from assistant.cli import main

if __name__ == "__main__":
    sys.exit(main())
