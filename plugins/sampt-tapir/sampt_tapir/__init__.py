"""TAPIR / BootsTAPIR point trackers for sampt."""
