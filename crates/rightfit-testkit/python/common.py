"""Helpers shared by the SDK conformance scripts: each call prints one JSON line."""

import json
import sys


def emit(call, **fields):
    print(json.dumps({"call": call, **fields}, default=str), flush=True)


def run(call, fn, status_error, base_error):
    """Runs fn(partial) and prints its result, or the exception the SDK raised.

    `partial` is a list fn appends streamed text to, so an error record shows what arrived first.
    """
    partial = []
    try:
        emit(call, **fn(partial))
    except status_error as e:
        response = getattr(e, "response", None)
        headers = getattr(response, "headers", None) or {}
        emit(
            call,
            error=type(e).__name__,
            status=getattr(e, "status_code", None) or getattr(e, "code", None),
            message=str(e),
            headers={k.lower(): v for k, v in headers.items()},
            partial="".join(partial),
        )
    except base_error as e:
        emit(call, error=type(e).__name__, message=str(e), partial="".join(partial))
    except Exception as e:  # anything else is a conformance failure the Rust test reports
        emit(call, error=type(e).__name__, message=str(e), partial="".join(partial), unexpected=True)


def args():
    if len(sys.argv) < 2:
        sys.exit(f"usage: {sys.argv[0]} BASE_URL [MODE]")
    return sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "full")
