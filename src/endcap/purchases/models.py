"""Transaction lines.

A line is identified by (transaction_id, line_ref): ``line_ref`` is the file's
line_no, or ``sku:<sku>`` when the file has no line_no (DESIGN.md data contract).

This is the biggest table (about 30 lines per shopper per year), so it carries
only the primary key and the profile index: every other index and foreign key
would be paid on each of millions of loaded lines. The loader checks the sku,
store and customer of every line set-based before it applies a file, and
aggregations scan rather than seek.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, Numeric, PrimaryKeyConstraint, String
from sqlmodel import Field, SQLModel

from endcap.db.types import BigId, UTCDateTime


class TransactionLine(SQLModel, table=True):
    __tablename__ = "transactions"
    __table_args__ = (PrimaryKeyConstraint("transaction_id", "line_ref"),)

    transaction_id: str = Field(sa_column=Column(String(64), nullable=False))
    line_ref: str = Field(sa_column=Column(String(80), nullable=False))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sku: str = Field(sa_column=Column(String(64), nullable=False))
    quantity: Decimal = Field(sa_column=Column(Numeric(12, 3), nullable=False))
    sales_value: Decimal = Field(sa_column=Column(Numeric(14, 2), nullable=False))
    discount: Decimal = Field(default=Decimal(0), sa_column=Column(Numeric(14, 2), nullable=False))
    # The retailer's customer id as loaded (blank = anonymous), and the profile it
    # resolves to: the distribution key, kept in step by identity resolution.
    customer_id: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    profile_id: int | None = Field(default=None, sa_column=Column(BigId, nullable=True, index=True))
    store_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    channel: str = Field(default="store", sa_column=Column(String(16), nullable=False))
