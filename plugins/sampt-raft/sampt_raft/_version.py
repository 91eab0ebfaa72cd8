"""sampt-raft's version: the one place it is written (read statically by the build, see pyproject.toml)."""
__version__ = "0.1.0"
