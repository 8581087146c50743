from __future__ import annotations

from sqlalchemy import LargeBinary, String
from sqlmodel import Field, SQLModel


class KeyCheck(SQLModel, table=True):
    """A value sealed with the database's current key-encryption key (its key id says
    which one that is): proves at start that the key file matches, and names the key
    every process wraps new data keys with. ``live_keys`` lists the key ids that stored
    values may still name ("1,2" while a rotation runs); a retired key is no longer in it.
    """

    __tablename__ = "key_check"

    id: int = Field(default=1, primary_key=True)
    sealed: bytes = Field(sa_type=LargeBinary)
    live_keys: str = Field(
        default="1", sa_type=String(200), sa_column_kwargs={"server_default": "1"}
    )
