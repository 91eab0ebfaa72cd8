"""sampt's built-in weightless components, registered through the same entry points as any plugin."""
