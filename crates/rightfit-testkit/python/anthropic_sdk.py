"""Calls an Anthropic-protocol server with the official `anthropic` SDK; one JSON line per call.

usage: anthropic_sdk.py BASE_URL
The Rust test (tests/it/sdk.rs) scripts the server's answers in the order of these calls.
"""

import anthropic
from anthropic import Anthropic

from common import args, run

MESSAGES = [{"role": "user", "content": "Say hello."}]
TOOLS = [{
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}]
FORCE = {"type": "tool", "name": "get_weather"}


def message_of(m):
    return {
        "id": m.id,
        "type": m.type,
        "role": m.role,
        "model": m.model,
        "blocks": [b.model_dump() for b in m.content],
        "stop_reason": m.stop_reason,
        "usage": {"input": m.usage.input_tokens, "output": m.usage.output_tokens},
    }


def plain(client, model="claude-test", **extra):
    def call(partial):
        m = client.messages.create(model=model, max_tokens=100, system="Be brief.", messages=MESSAGES, **extra)
        return message_of(m)

    return call


def streamed(client, **extra):
    def call(partial):
        with client.messages.stream(model="claude-test", max_tokens=100, system="Be brief.",
                                    messages=MESSAGES, **extra) as stream:
            for text in stream.text_stream:
                partial.append(text)
            final = stream.get_final_message()
        return {"text": "".join(partial), **message_of(final)}

    return call


def raw_events(client):
    def call(partial):
        events = client.messages.create(model="claude-test", max_tokens=100, messages=MESSAGES, stream=True)
        return {"events": [e.type for e in events]}

    return call


def main():
    base, _ = args()
    client = Anthropic(api_key="test-key", base_url=base, max_retries=0, timeout=20)
    errors = (anthropic.APIStatusError, anthropic.APIError)
    run("plain", plain(client), *errors)
    run("stream", streamed(client), *errors)
    run("events", raw_events(client), *errors)
    run("tool", plain(client, tools=TOOLS, tool_choice=FORCE), *errors)
    run("tool_stream", streamed(client, tools=TOOLS, tool_choice=FORCE), *errors)
    bad = Anthropic(api_key="wrong-key", base_url=base, max_retries=0, timeout=20)
    run("bad_key", plain(bad), *errors)
    run("unknown_model", plain(client, model="no-such-model"), *errors)
    run("rate_limited", plain(client), *errors)
    run("overloaded", plain(client), *errors)
    run("stream_error", streamed(client), *errors)
    # The SDK lets the transport's error through when a stream is cut (httpx's
    # RemoteProtocolError, not an anthropic.APIConnectionError), so any exception counts here.
    run("truncated", streamed(client), anthropic.APIError, Exception)


if __name__ == "__main__":
    main()
