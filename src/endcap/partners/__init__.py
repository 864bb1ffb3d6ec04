"""Brand partners: manufacturers and the agencies that act for them."""
