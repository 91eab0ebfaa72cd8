"""Built-in sampt commands."""
