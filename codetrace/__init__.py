"""codetrace: static tracing instrumentation for Python.

This package's ``__init__`` imports nothing but the version on purpose: instrumented programs
import ``codetrace.runtime``, which imports this module first, and the runtime must not pay for
the engine (libcst, black, jinja2) or import anything outside the standard library. In a
production image only the runtime distribution is installed and this file is absent: then
``codetrace`` is a namespace package holding ``codetrace.runtime`` alone.
"""

from codetrace.runtime._version import __version__

__all__ = ["__version__"]
