"""The embedded SQLite store (``sqlite:///path/to.db``, ``sqlite:///:memory:``).

``store`` has the store and the design of its change log; ``schema`` its tables,
``filters`` the compilation of ``where`` filters to SQL, ``tokens`` the token records and
``errors`` the mapping of sqlite3's exceptions to ours.
"""

from .filters import compile_filter
from .store import SQLiteStore

__all__ = ["SQLiteStore", "compile_filter"]
