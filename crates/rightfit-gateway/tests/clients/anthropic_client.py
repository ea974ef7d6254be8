"""Calls an Anthropic-compatible server (the gateway) with the official `anthropic` Python SDK.

usage: anthropic_client.py [--tools[=required|=named]] BASE_URL API_KEY MODEL [BAD_KEY]

BASE_URL is the server's root (http://127.0.0.1:8787); the SDK adds /v1/messages itself and sends
the key as `x-api-key`. Calls, in this order, one JSON line each on stdout:
  plain      messages.create, whole answer
  stream     client.messages.stream(...): text_stream read to the end, then get_final_message()
  not_found  model "no-such-model": must fail with anthropic.NotFoundError (404)
  bad_key    only when BAD_KEY is given: a client with that key must fail with
             anthropic.AuthenticationError (401)
With --tools, the calls are instead (one custom tool offered, get_weather(city)):
  tools        messages.create(tools=...), whole answer
  tools_stream client.messages.stream(tools=...): events read to the end, then
               get_final_message(), whose tool_use blocks the SDK rebuilt from input_json deltas
  tool_result  a second turn: the assistant's tool_use (from "tools"; toolu_1 if it failed) and a
               user tool_result answering it, whole answer
  where tool_calls lists each tool_use block as {id, name, input} and input_deltas counts the
  SDK's input_json events.
  --tools=required forces one call in "tools" and "tools_stream" (tool_choice={"type": "any",
  "disable_parallel_tool_use": True}), --tools=named the same by name ({"type": "tool", "name":
  "get_weather", ...}); "tool_result" stays under "auto" (the model answers as it likes).
Fields: call, text, usage ({input_tokens, output_tokens}), finish_reason (Anthropic's stop_reason:
end_turn, max_tokens, ...), chunks (text_stream pieces), id, model, headers (lowercased, whole
answers and errors), and on an SDK error error_status, error_type (the SDK's exception class, e.g.
NotFoundError), error_body (the whole error JSON the server sent: {"type": "error", "error":
{...}}) and message. A call whose outcome is not the one listed above gets an "unexpected" field
saying why; the test asserts that no line has one. The script never stops early and exits 0
unless its arguments are wrong (2). No retries (max_retries=0), 300 s timeout per call (a guard against hangs, not a speed bound: a loaded 2-core machine answers slowly).
"""

import json
import sys

import anthropic
from anthropic import Anthropic

SYSTEM = "Be brief."
MESSAGES = [{"role": "user", "content": "Say hello."}]


def emit(call, fields):
    print(json.dumps({"call": call, **fields}, default=str), flush=True)


def headers_of(response):
    return {k.lower(): v for k, v in response.headers.items()} if response is not None else {}


def run(call, fn, expect=None):
    """Runs fn() and prints what it returned, or the error. `expect` names the anthropic exception
    class the call must raise; None means it must succeed."""
    try:
        fields = fn()
        if expect is not None:
            fields["unexpected"] = f"succeeded, expected {expect}"
    except anthropic.APIError as e:  # every SDK error: status errors, connection errors, timeouts
        response = getattr(e, "response", None)
        fields = {
            "error_status": getattr(e, "status_code", None),
            "error_type": type(e).__name__,
            "error_body": getattr(e, "body", None),
            "message": str(e),
            "headers": headers_of(response),
        }
        if type(e).__name__ != expect:
            fields["unexpected"] = f"{type(e).__name__}: {e} (expected {expect or 'success'})"
    except Exception as e:  # a broken answer the SDK could not read, or a bug here
        fields = {"unexpected": f"{type(e).__name__}: {e}"}
    emit(call, fields)


def message_fields(m):
    return {
        "text": "".join(b.text for b in m.content if b.type == "text"),
        "usage": {"input_tokens": m.usage.input_tokens, "output_tokens": m.usage.output_tokens},
        "finish_reason": m.stop_reason,
        "id": m.id,
        "model": m.model,
    }


def whole(client, model):
    def call():
        raw = client.messages.with_raw_response.create(
            model=model, max_tokens=48, system=SYSTEM, messages=MESSAGES
        )
        return {**message_fields(raw.parse()), "headers": headers_of(raw)}

    return call


def streamed(client, model):
    def call():
        pieces = []
        with client.messages.stream(model=model, max_tokens=48, system=SYSTEM, messages=MESSAGES) as stream:
            for text in stream.text_stream:
                pieces.append(text)
            final = stream.get_final_message()
        fields = message_fields(final)
        if "".join(pieces) != fields["text"]:
            fields["unexpected"] = f"text_stream gave {''.join(pieces)!r}, the final message {fields['text']!r}"
        return {**fields, "chunks": len(pieces)}

    return call


TOOLS = [
    {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]
TOOL_MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]


def tool_fields(m):
    return {
        **message_fields(m),
        "tool_calls": [{"id": b.id, "name": b.name, "input": b.input} for b in m.content if b.type == "tool_use"],
        "block_types": [b.type for b in m.content],
    }


# The first turn's tool_choice, (whole, streamed), per --tools mode; None sends none. A forced
# mode asks for one call.
TOOL_CHOICES = {
    "": ({"type": "auto"}, None),
    "required": ({"type": "any", "disable_parallel_tool_use": True},) * 2,
    "named": ({"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},) * 2,
}


def tool_whole(client, model, messages, seen, tool_choice=None):
    def call():
        m = client.messages.create(
            model=model,
            max_tokens=48,
            messages=messages,
            tools=TOOLS,
            tool_choice=tool_choice or {"type": "auto"},
        )
        seen.append(m)
        return tool_fields(m)

    return call


def tool_streamed(client, model, tool_choice=None):
    def call():
        deltas = 0
        extra = {} if tool_choice is None else {"tool_choice": tool_choice}
        with client.messages.stream(
            model=model, max_tokens=48, messages=TOOL_MESSAGES, tools=TOOLS, **extra
        ) as stream:
            for event in stream:
                if event.type == "input_json":
                    deltas += 1
            final = stream.get_final_message()
        return {**tool_fields(final), "input_deltas": deltas}

    return call


def tools_mode(client, model, mode):
    whole_choice, streamed_choice = TOOL_CHOICES[mode]
    seen = []
    run("tools", tool_whole(client, model, TOOL_MESSAGES, seen, whole_choice))
    run("tools_stream", tool_streamed(client, model, streamed_choice))
    uses = [b for b in seen[0].content if b.type == "tool_use"] if seen else []
    use_id = uses[0].id if uses else "toolu_1"
    use_input = uses[0].input if uses else {"city": "Paris"}
    second = TOOL_MESSAGES + [
        {"role": "assistant", "content": [{"type": "tool_use", "id": use_id, "name": "get_weather", "input": use_input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use_id, "content": "18 C and sunny"}]},
    ]
    run("tool_result", tool_whole(client, model, second, []))


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    tools = mode == "--tools" or mode.startswith("--tools=")
    choice = mode.partition("=")[2] if tools else ""
    args = sys.argv[2:] if tools else sys.argv[1:]
    if len(args) not in (3, 4) or choice not in TOOL_CHOICES:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    base, key, model = args[:3]
    client = Anthropic(api_key=key, base_url=base, max_retries=0, timeout=300)
    if tools:
        tools_mode(client, model, choice)
        return
    run("plain", whole(client, model))
    run("stream", streamed(client, model))
    run("not_found", whole(client, "no-such-model"), expect="NotFoundError")
    if len(args) == 4:
        bad = Anthropic(api_key=args[3], base_url=base, max_retries=0, timeout=300)
        run("bad_key", whole(bad, model), expect="AuthenticationError")


if __name__ == "__main__":
    main()
