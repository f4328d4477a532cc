"""The one place the version is written: the runtime and the engine are released together."""

__version__ = "0.1.0"
