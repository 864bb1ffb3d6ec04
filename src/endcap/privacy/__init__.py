"""Every privacy rule, in one place: erasure now; consent purposes, sizes, thresholds,
rounding, noise, budgets and the difference check as audiences and reports arrive."""
