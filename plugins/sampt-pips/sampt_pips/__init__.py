"""PIPS and PIPS++ point trackers for sampt."""
