"""Background jobs of the billing test app."""
