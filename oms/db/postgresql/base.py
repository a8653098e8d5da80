"""The backend: Django's PostgreSQL DatabaseWrapper with the compilers of .compiler."""

from __future__ import annotations

from django.db.backends.postgresql import base
from django.db.backends.postgresql.operations import DatabaseOperations as _Operations


class DatabaseOperations(_Operations):
    compiler_module = "oms.db.postgresql.compiler"


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
