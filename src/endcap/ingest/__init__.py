"""Bulk loads of the retailer data contract: validate, stage, upsert, all-or-nothing per file."""
