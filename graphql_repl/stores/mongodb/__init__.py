"""The MongoDB store (``mongodb://...``, ``mongodb+srv://...``), on PyMongo's async API.

``store`` has the store and its optimistic writes; ``sequencer`` the design of its change
log and the process that gives writes their positions; ``filters`` the compilation of
``where`` filters to queries, ``tokens`` the token records and ``errors`` the mapping of
PyMongo's exceptions to ours. Importing this package needs the ``mongodb`` extra.
"""

from .filters import compile_filter, like_to_regex
from .store import MongoStore

__all__ = ["MongoStore", "compile_filter", "like_to_regex"]
