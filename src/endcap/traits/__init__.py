"""Traits computed per profile from purchases: RFM, spend by department, category, brand and
manufacturer over rolling windows, channel and promo mix, customer value."""
