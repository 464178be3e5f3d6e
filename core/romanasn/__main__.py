"""``python -m romanasn``: the command line."""

import sys

from romanasn.cli import main

sys.exit(main())
