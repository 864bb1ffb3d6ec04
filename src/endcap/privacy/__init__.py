"""Every privacy rule, in one place.

- ``channels``: which consent purpose each channel needs.
- ``sizes``: minimum audience size, brand-facing rounding and size bands.
- ``thresholds``: the k-threshold with complementary suppression for report tables.
- ``difference``: two releases to one brand may not differ by fewer than k shoppers.
- ``sensitive``: sensitive departments and categories may not drive targeting.
- ``erasure``: removing a shopper everywhere, with a tombstone.
- ``settings``: the numbers behind these rules (ENDCAP_PRIVACY_*).
"""
