"""sampt's version, in a leaf module: anything may import it without importing the package root back."""

__version__ = "0.1.0"
