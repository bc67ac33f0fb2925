"""The call history: every answer appended to a local SQLite log that outlives the kernel.

``store.py`` owns the file (WAL, short transactions, full-text search), ``record.py`` turns a
finished call into a row (never the key), ``commands.py`` is ``%qwencmd log``, ``view.py``
how entries are shown and ``qwen_magic.history()`` returns them.
"""
