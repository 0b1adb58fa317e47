"""Every graph the suite builds is verified and its IR text round-tripped through
the parser (runtime/compiled.py checks both when TORCHTREK_VERIFY is set)."""

import os

os.environ.setdefault("TORCHTREK_VERIFY", "1")

# Keep the suite's generated-source cache out of the user's cache directory.
import tempfile  # noqa: E402

os.environ.setdefault("TORCHTREK_CACHE_DIR", tempfile.mkdtemp(prefix="torchtrek-test-cache-"))
