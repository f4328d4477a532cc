"""``span_function`` keeps the decorated function's exact type under ``mypy --strict``.

The engine adds ``@_codetrace.span_function(...)`` to typed projects; if the decorator erased
the signature (``Callable[..., Any]``), their type checking would silently stop at every traced
function. So mypy runs on a small module: ``reveal_type`` shows the original signatures, and
calls that do not fit the function (or the decorator's own parameters) must be errors.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SOURCE = textwrap.dedent(
    """
    from collections.abc import AsyncIterator, Iterator
    import codetrace.runtime as _codetrace


    @_codetrace.span_function("myapp.orders.create")
    def create(item: str, *, quantity: int = 1) -> dict[str, int]:
        return {item: quantity}


    @_codetrace.span_function(
        "orders.handle",
        kind="server",
        attributes={"order.kind": "web", "n": 1, "f": 1.5, "b": True},
        min_duration_ms=50.0,
    )
    async def handle(order_id: int) -> str:
        return str(order_id)


    @_codetrace.span_function("rows")
    def rows(limit: int) -> Iterator[int]:
        yield limit


    @_codetrace.span_function("stream")
    async def stream(limit: int) -> AsyncIterator[bytes]:
        yield b"x" * limit


    class Orders:
        @_codetrace.span_function("Orders.total")
        def total(self, tax: float) -> float:
            return 1.0 + tax

        @classmethod
        @_codetrace.span_function("Orders.build")
        def build(cls) -> "Orders":
            return cls()

        @staticmethod
        @_codetrace.span_function("Orders.tax")
        def tax(amount: int) -> float:
            return amount * 0.2

        @property
        @_codetrace.span_function("Orders.size")
        def size(self) -> int:
            return 3


    reveal_type(create)
    reveal_type(handle)
    reveal_type(rows)
    reveal_type(stream)
    reveal_type(Orders().total)
    reveal_type(Orders.build)
    reveal_type(Orders.tax)
    reveal_type(Orders().size)
    checked: dict[str, int] = create("book", quantity=2)

    async def use() -> str:
        return await handle(3)

    create(1)  # error: arg-type
    create("book", 2)  # error: too many positional
    unused = handle("3")  # error: arg-type
    Orders().total("x")  # error: arg-type
    wrong: int = create("book")  # error: assignment
    _codetrace.span_function(name="x")  # error: positional-only
    _codetrace.span_function("x", attributes={"k": [1, 2]})  # error: attribute value type
    _codetrace.span_function("x", kind=2)  # error: kind is a str
    """
)

EXPECTED_REVEALS = [
    "def (item: str, *, quantity: int =) -> dict[str, int]",
    "def (order_id: int) -> typing.Coroutine[Any, Any, str]",
    "def (limit: int) -> typing.Iterator[int]",
    "def (limit: int) -> typing.AsyncIterator[bytes]",
    "def (tax: float) -> float",
    "def () -> t.Orders",
    "def (amount: int) -> float",
    "int",
]


def test_mypy_strict_sees_the_functions_own_types(tmp_path: Path) -> None:
    (tmp_path / "t.py").write_text(SOURCE, encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--show-error-codes",
            "--no-error-summary",
            "--hide-error-context",
            "--no-pretty",
            "--config-file",
            "",
            "t.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = proc.stdout.splitlines()
    reveals = [line.split('Revealed type is "', 1)[1][:-1] for line in lines if "Revealed" in line]
    assert reveals == EXPECTED_REVEALS, proc.stdout
    errors = [line for line in lines if ": error:" in line]
    source_lines = SOURCE.splitlines()
    flagged = sorted({int(line.split(":")[1]) for line in errors})
    expected = sorted(
        number for number, text in enumerate(source_lines, start=1) if "# error:" in text
    )
    assert flagged == expected, proc.stdout  # each bad line fails, nothing else does
    assert proc.returncode == 1
