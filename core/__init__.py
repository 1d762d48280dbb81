"""Sigurna core: configuration, database, time, errors, identity, access control and audit."""
