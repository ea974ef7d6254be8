"""Calls an OpenAI-compatible server (the gateway) with the official `openai` Python SDK.

usage: openai_client.py [--tools[=required|=named]] BASE_URL API_KEY MODEL [BAD_KEY]

BASE_URL is the server's root, without /v1 (http://127.0.0.1:8787); the script adds /v1 as the
SDK expects. Calls, in this order, one JSON line each on stdout:
  plain        chat.completions.create, whole answer
  stream       the same streamed, stream_options={"include_usage": True}
  json_object  response_format={"type": "json_object"}, whole answer; "json" is the text parsed,
               or null when it is not JSON (what the model wrote is not the gateway's business)
  logprobs     logprobs=True, top_logprobs=2, whole answer; "logprobs" lists each token as
               {token, logprob, bytes, top: [[token, logprob], ...]} (null when the answer has none)
  logprobs_stream  the same streamed: the tokens of every chunk, in order
  models       models.list(); "ids" lists the model ids
  not_found    model "no-such-model": must fail with openai.NotFoundError (404)
  bad_key      only when BAD_KEY is given: a client with that key must fail with
               openai.AuthenticationError (401)
With --tools, the calls are instead (tools offered: one strict function, get_weather(city)):
  tools        chat.completions.create(tools=...), whole answer
  tools_stream client.chat.completions.stream(tools=...): events read to the end, then
               get_final_completion(), whose tool calls the SDK rebuilt from the deltas
  tool_result  a second turn: the assistant's call (from "tools"; call_1 if it failed) and a
               tool message answering it, whole answer
  where tool_calls lists each call as {id, type, name, arguments (parsed JSON)} and
  argument_deltas counts the SDK's tool_calls.function.arguments.delta events.
  --tools=required forces one call in "tools" and "tools_stream" (tool_choice="required",
  parallel_tool_calls=False), --tools=named the same by name ({"type": "function", "function":
  {"name": "get_weather"}}); "tool_result" stays under "auto" (the model answers as it likes).
Fields: call, text, usage ({prompt_tokens, completion_tokens, total_tokens} or null),
finish_reason, chunks (streamed content pieces), ids (distinct chunk ids), id, model, headers
(lowercased, whole answers and errors), and on an SDK error error_status, error_type (the SDK's
exception class, e.g. NotFoundError), error_body (the error JSON the server sent) and message.
A call whose outcome is not the one listed above gets an "unexpected" field saying why; the test
asserts that no line has one. The script never stops early and exits 0 unless its arguments are
wrong (2). No retries (max_retries=0), 300 s timeout per call (a guard against hangs, not a speed bound: a loaded 2-core machine answers slowly).
"""

import json
import os
import sys

import openai
from openai import OpenAI

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]
# Bounds a real model's answer (the tests run SmolLM2 on 2 cores).
MAX_TOKENS = 48


def emit(call, fields):
    print(json.dumps({"call": call, **fields}, default=str), flush=True)


def usage_of(usage):
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def headers_of(response):
    return {k.lower(): v for k, v in response.headers.items()} if response is not None else {}


def run(call, fn, expect=None):
    """Runs fn() and prints what it returned, or the error. `expect` names the openai exception
    class the call must raise; None means it must succeed."""
    try:
        fields = fn()
        if expect is not None:
            fields["unexpected"] = f"succeeded, expected {expect}"
    except openai.APIError as e:  # every SDK error: status errors, connection errors, timeouts
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


def whole(client, model, **extra):
    def call():
        raw = client.chat.completions.with_raw_response.create(
            model=model, messages=MESSAGES, max_tokens=MAX_TOKENS, **extra
        )
        r = raw.parse()
        choice = r.choices[0]
        fields = {
            "text": choice.message.content,
            "usage": usage_of(r.usage),
            "finish_reason": choice.finish_reason,
            "id": r.id,
            "model": r.model,
            "headers": headers_of(raw),
        }
        if extra.get("logprobs"):
            fields["logprobs"] = tokens_of(choice.logprobs)
        return fields

    return call


def streamed(client, model, **extra):
    def call():
        stream = client.chat.completions.create(
            model=model,
            messages=MESSAGES,
            max_tokens=MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
            **extra,
        )
        text, usage, finish, chunks, ids, model_seen = [], None, None, 0, set(), None
        tokens = []
        for chunk in stream:
            ids.add(chunk.id)
            model_seen = chunk.model
            if chunk.usage is not None:
                usage = usage_of(chunk.usage)
            for choice in chunk.choices:
                if choice.delta.content:
                    text.append(choice.delta.content)
                    chunks += 1
                if choice.finish_reason is not None:
                    finish = choice.finish_reason
                tokens.extend(tokens_of(choice.logprobs) or [])
        fields = {
            "text": "".join(text),
            "usage": usage,
            "finish_reason": finish,
            "chunks": chunks,
            "ids": len(ids),
            "model": model_seen,
        }
        if extra.get("logprobs"):
            fields["logprobs"] = tokens
        return fields

    return call


def tokens_of(logprobs):
    if logprobs is None or logprobs.content is None:
        return None
    return [
        {
            "token": t.token,
            "logprob": t.logprob,
            "bytes": t.bytes,
            "top": [[a.token, a.logprob] for a in t.top_logprobs],
        }
        for t in logprobs.content
    ]


def json_mode(client, model):
    def call():
        fields = whole(client, model, response_format={"type": "json_object"})()
        try:
            fields["json"] = json.loads(fields["text"] or "")
        except ValueError:
            fields["json"] = None
        return fields

    return call


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
]
TOOL_MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]


def calls_of(message):
    return [
        {
            "id": c.id,
            "type": c.type,
            "name": c.function.name,
            "arguments": json.loads(c.function.arguments),
        }
        for c in (message.tool_calls or [])
    ]


# The first turn's extra arguments, (whole, streamed), per --tools mode: by default
# tool_choice="auto" whole and nothing streamed; a forced mode asks both for one call.
def forced(choice):
    return {"tool_choice": choice, "parallel_tool_calls": False}


TOOL_CHOICES = {
    "": ({"tool_choice": "auto"}, {}),
    "required": (forced("required"),) * 2,
    "named": (forced({"type": "function", "function": {"name": "get_weather"}}),) * 2,
}


def tool_whole(client, model, messages, seen, extra=None):
    def call():
        r = client.chat.completions.create(
            model=model,
            messages=messages,
            max_tokens=MAX_TOKENS,
            tools=TOOLS,
            **(extra or {"tool_choice": "auto"}),
        )
        choice = r.choices[0]
        seen.append(choice.message)
        return {
            "text": choice.message.content,
            "tool_calls": calls_of(choice.message),
            "finish_reason": choice.finish_reason,
            "usage": usage_of(r.usage),
        }

    return call


def tool_streamed(client, model, extra):
    def call():
        deltas = 0
        with client.chat.completions.stream(
            model=model, messages=TOOL_MESSAGES, max_tokens=MAX_TOKENS, tools=TOOLS, **extra
        ) as stream:
            for event in stream:
                if event.type == "tool_calls.function.arguments.delta":
                    deltas += 1
            final = stream.get_final_completion()
        choice = final.choices[0]
        return {
            "text": choice.message.content,
            "tool_calls": calls_of(choice.message),
            "finish_reason": choice.finish_reason,
            "argument_deltas": deltas,
        }

    return call


def tools_mode(client, model, mode):
    whole_extra, streamed_extra = TOOL_CHOICES[mode]
    seen = []
    run("tools", tool_whole(client, model, TOOL_MESSAGES, seen, whole_extra))
    run("tools_stream", tool_streamed(client, model, streamed_extra))
    calls = seen[0].tool_calls if seen and seen[0].tool_calls else None
    call_id = calls[0].id if calls else "call_1"
    arguments = calls[0].function.arguments if calls else '{"city": "Paris"}'
    second = TOOL_MESSAGES + [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "18 C and sunny"},
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
    client = OpenAI(api_key=key, base_url=base.rstrip("/") + "/v1", max_retries=0, timeout=300)
    if tools:
        tools_mode(client, model, choice)
        return
    run("plain", whole(client, model))
    run("stream", streamed(client, model))
    # RIGHTFIT_CLIENT_SKIP=json_object leaves it out (grammar-constrained decoding of a real
    # local model is too slow for the clients on 2 cores).
    if "json_object" not in os.environ.get("RIGHTFIT_CLIENT_SKIP", "").split(","):
        run("json_object", json_mode(client, model))
    run("logprobs", whole(client, model, logprobs=True, top_logprobs=2))
    run("logprobs_stream", streamed(client, model, logprobs=True, top_logprobs=2))
    run("models", lambda: {"ids": [m.id for m in client.models.list()]})
    run("not_found", whole(client, "no-such-model"), expect="NotFoundError")
    if len(args) == 4:
        bad = OpenAI(api_key=args[3], base_url=base.rstrip("/") + "/v1", max_retries=0, timeout=300)
        run("bad_key", whole(bad, model), expect="AuthenticationError")


if __name__ == "__main__":
    main()
