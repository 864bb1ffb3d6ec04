"""The retailer's catalog: manufacturers, brands, products in a category tree, stores."""
