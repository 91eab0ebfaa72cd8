"""Packaging beyond what pyproject.toml can say: the repository keeps its YAML configs in ``configs/`` at the
top, where users look for them, and the wheel ships them inside the package as ``sampt/configs`` (package
data that :func:`sampt.config.config_dir` finds), so an installed sampt has its defaults wherever it runs."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["sampt", "sampt.*"]) + ["sampt.configs"],
    package_dir={"sampt.configs": "configs"},
    package_data={"sampt.configs": ["*.yaml", "*/*.yaml", "*/*/*.yaml"]},
    include_package_data=False,
)
