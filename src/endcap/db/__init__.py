"""Engine, session and shared column types."""

from sqlmodel import SQLModel

# Stable constraint names make migrations reviewable and let SQLite's batch mode
# find constraints by name. Set here, in the package every model module imports
# (through db.types), so that no table is ever defined before it.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
