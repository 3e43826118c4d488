"""``python -m portal.cluster`` (``make cluster``): see portal/cluster/__init__.py."""

import sys

from .launcher import main

sys.exit(main())
