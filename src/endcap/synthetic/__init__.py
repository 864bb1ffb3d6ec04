"""A deterministic synthetic retailer: products, stores, customers with key
chains and consents, and purchase transactions, written as the files of the
retailer data contract (CSV, Parquet or NDJSON).

``generate()`` is the entry point; ``endcap.synthetic.command.generate_command``
is the ``endcap generate`` command.
"""

from endcap.synthetic.generate import FileSummary, GenerationSummary, generate
from endcap.synthetic.writer import FORMATS, Format

__all__ = ["FORMATS", "FileSummary", "Format", "GenerationSummary", "generate"]
