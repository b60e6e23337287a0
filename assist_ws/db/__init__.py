"""Persistence: SQLAlchemy 2 tables and mapping, repositories, the unit of work, migrations."""
