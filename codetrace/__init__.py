"""codetrace: static tracing instrumentation for Python.

This package's ``__init__`` stays empty of imports on purpose: instrumented programs import
``codetrace.runtime``, which imports this module first, and the runtime must not pay for the
engine (libcst, black, jinja2) or import anything outside the standard library.
"""

__version__ = "0.1.0"
