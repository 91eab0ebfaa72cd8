"""sampt's version: the one place it is written. A leaf module (it imports nothing), read by the package
(``sampt.__version__``) and by the build (``pyproject.toml``'s ``[tool.setuptools.dynamic]``, statically)."""
__version__ = "0.1.0"
