"""API keys, roles and the guards that scope every route to a role and a tenant."""
