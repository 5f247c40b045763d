# First instruction: die with the coordinator (before ZeroMQ, numpy or anything heavy).
from shared.lifeline import die_with_parent

die_with_parent()

import sys  # noqa: E402

from .main import main  # noqa: E402

sys.exit(main())
