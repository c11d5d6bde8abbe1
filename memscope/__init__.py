"""memscope: where did my memory go? Reads the kernel's own accounting and explains it."""

__version__ = "0.1.0"
SCHEMA_VERSION = 1
