"""Profiles and key chains: customer records joined into one profile by shared identifiers."""
