"""The marketplace: rate cards, capacity, forecasts, campaigns and their approval."""
