"""``hooks.starlette(app)``: Starlette and FastAPI apps get ``_asgi.TracingMiddleware``.

Through ``app.add_middleware``, the frameworks' public way to add a pure ASGI middleware, called
right after the app is built (where the engine puts the hook), before the app can have started:
Starlette refuses middleware once it has built its stack, and an app the hook reaches too late
is left untraced with one warning. No monkey patching; one middleware serves both frameworks,
since a FastAPI app is a Starlette app.

Where it sits: Starlette wraps its own ``ServerErrorMiddleware`` outside every user middleware
and its ``ExceptionMiddleware`` inside them, so the span sees ``HTTPException`` responses (404,
422...) as responses, and an unhandled exception before Starlette turns it into the 500.
Middleware the project adds *after* construction wraps the tracing one (``add_middleware``
inserts at the outside): it runs outside the span, and a request it answers itself (a CORS
preflight, an authentication refusal) is not traced. Middleware passed to the constructor
(``middleware=[...]``) runs inside the span.

The exclusion variable follows the framework: ``OTEL_PYTHON_FASTAPI_EXCLUDED_URLS`` for a
FastAPI app (or a project subclass), ``OTEL_PYTHON_STARLETTE_EXCLUDED_URLS`` otherwise, each
falling back to ``OTEL_PYTHON_EXCLUDED_URLS``. Hooking one app twice adds one middleware.
"""

from __future__ import annotations

from ._asgi import FASTAPI, STARLETTE, TracingMiddleware

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _is_fastapi(app: Any) -> bool:
    return any(
        str(getattr(cls, "__module__", "")).split(".", 1)[0] == "fastapi"
        for cls in type(app).__mro__
    )


def instrument(app: Any) -> Any:
    """Add the tracing middleware to ``app`` once; return ``app``.

    Raises ``TypeError`` for an object without ``add_middleware`` and Starlette's
    ``RuntimeError`` for an app that has started (the hook logs either and goes on).
    """
    add_middleware = getattr(app, "add_middleware", None)
    if add_middleware is None:
        raise TypeError(f"{type(app).__name__} has no add_middleware: not a Starlette app")
    for middleware in getattr(app, "user_middleware", None) or ():
        if getattr(middleware, "cls", None) is TracingMiddleware:
            return app
    add_middleware(TracingMiddleware, excluded_urls=FASTAPI if _is_fastapi(app) else STARLETTE)
    return app
