"""Reading Python source the way real trees need: encodings, libcst's limits, exact bytes.

libcst round-trips almost every real file byte for byte; the exceptions (LibCST#1011 does not
parse, LibCST#1457 loses a space, very deep nesting hits the recursion limit) become a
:class:`~codetrace._result.Failure` with the line, so the file is reported and left alone.
"""

from __future__ import annotations

import ast
import codecs
import io
import tokenize
import warnings

import libcst as cst

from codetrace._result import Failure


def check_decodable(source: bytes) -> None:
    """Raise :class:`Failure` with the line when ``source`` is not text Python can read."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except SyntaxError as exc:
        raise Failure(exc.lineno or 1, f"bad encoding declaration: {exc.msg}") from None
    try:
        codecs.lookup(encoding)
        source.decode(encoding)
    except LookupError:
        raise Failure(1, f"unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as exc:
        line = source[: exc.start].count(b"\n") + 1
        byte = source[exc.start]
        raise Failure(line, f"cannot decode byte 0x{byte:02x} as {encoding}") from None


def parse(source: bytes, *, exact: bool = True) -> cst.Module:
    """libcst parse with the failure modes of real code turned into :class:`Failure`.

    ``exact`` also checks that libcst gives the bytes back (LibCST#1457); a file that will only
    be read, or turns out to need no change, can skip that extra code generation.
    """
    check_decodable(source)
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        # Python's own message and line are what users know; libcst's points past the error.
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(source)
        except SyntaxError as python_error:
            raise Failure(python_error.lineno or exc.raw_line,
                          f"syntax error: {python_error.msg}") from None
        except ValueError:
            pass
        message = str(exc.message).splitlines()[0] if exc.message else "invalid syntax"
        raise Failure(exc.raw_line, f"libcst cannot parse this file: {message}") from None
    except RecursionError:
        raise Failure(1, "too deeply nested for the parser (recursion limit)") from None
    except Exception as exc:  # libcst raises assorted errors on odd input
        raise Failure(1, f"cannot parse: {type(exc).__name__}: {exc}") from None
    if exact:
        check_round_trip(module, source)
    return module


def check_round_trip(module: cst.Module, source: bytes) -> None:
    if module.bytes != source:
        raise Failure(1, "libcst does not reproduce this file byte for byte; left untouched")


def compile_error(source: bytes, path: str) -> tuple[int, str] | None:
    """None when ``source`` compiles, else the line (0: none named) and the error; warnings of
    the user's code are muted."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 0
        return line, f"{exc.__class__.__name__}: {getattr(exc, 'msg', exc)}"
    return None


def compiles(source: bytes, path: str) -> str | None:
    """None when ``source`` compiles, else the error as ``line N: ...``."""
    error = compile_error(source, path)
    return None if error is None else f"line {error[0]}: {error[1]}"
