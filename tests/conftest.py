"""Every graph the suite builds is verified and its IR text round-tripped through
the parser (runtime/compiled.py checks both when TORCHTREK_VERIFY is set)."""

import os

os.environ.setdefault("TORCHTREK_VERIFY", "1")
