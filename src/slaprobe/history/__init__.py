"""The history: the store contract, the SQLite and PostgreSQL stores, the recorder,
the spool of unwritten checks and the other locations' timelines."""
