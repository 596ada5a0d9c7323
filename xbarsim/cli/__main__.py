"""``python -m xbarsim.cli``: the ``xbarsim`` command."""

import sys

from xbarsim.cli.main import main

sys.exit(main())
