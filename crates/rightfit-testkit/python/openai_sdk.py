"""Calls an OpenAI-protocol server with the official `openai` SDK; one JSON line per call.

usage: openai_sdk.py BASE_URL [full|stream]
The Rust test (tests/it/sdk.rs) scripts the server's answers in the order of these calls.
"""

import openai
from openai import OpenAI

from common import args, emit, run

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]


def usage_of(usage):
    if usage is None:
        return None
    return {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens, "total": usage.total_tokens}


def plain(client, **extra):
    def call(partial):
        r = client.chat.completions.create(model="gpt-test", messages=MESSAGES, **extra)
        return {
            "id": getattr(r, "id", None),
            "object": r.object,
            "texts": [c.message.content for c in r.choices],
            "finish": [c.finish_reason for c in r.choices],
            "usage": usage_of(r.usage),
            "logprobs": [
                [[t.token, t.logprob, len(t.top_logprobs)] for t in c.logprobs.content]
                for c in r.choices
                if c.logprobs is not None and c.logprobs.content is not None
            ],
        }

    return call


def streamed(client, model="gpt-test", **extra):
    def call(partial):
        stream = client.chat.completions.create(model=model, messages=MESSAGES, stream=True, **extra)
        finish, usage, chunks, tokens, ids = None, None, 0, [], set()
        for chunk in stream:
            ids.add(getattr(chunk, "id", None))
            if chunk.usage is not None:
                usage = usage_of(chunk.usage)
            for choice in chunk.choices:
                if choice.delta.content:
                    partial.append(choice.delta.content)
                    chunks += 1
                if choice.finish_reason is not None:
                    finish = choice.finish_reason
                if choice.logprobs is not None and choice.logprobs.content:
                    tokens += [[t.token, t.logprob, len(t.top_logprobs)] for t in choice.logprobs.content]
        return {"text": "".join(partial), "finish": finish, "usage": usage, "chunks": chunks, "tokens": tokens,
                "ids": sorted(i for i in ids if i is not None)}

    return call


def embeddings(client, **extra):
    def call(partial):
        r = client.embeddings.create(model="gpt-test", input=["alpha beta", "gamma", "alpha beta"], **extra)
        return {
            "object": r.object,
            "model": r.model,
            "indexes": [d.index for d in r.data],
            "vectors": [[float(x) for x in d.embedding] for d in r.data],
            "usage": {"prompt": r.usage.prompt_tokens, "total": r.usage.total_tokens},
        }

    return call


def main():
    base, mode = args()
    client = OpenAI(api_key="test-key", base_url=base + "/v1", max_retries=0, timeout=20)
    errors = (openai.APIStatusError, openai.APIError)
    run("plain", plain(client), *errors)
    run("stream", streamed(client, stream_options={"include_usage": True}), *errors)
    if mode != "full":
        return
    run("n2", plain(client, n=2), *errors)
    run("logprobs", plain(client, logprobs=True, top_logprobs=2), *errors)
    run("logprobs_stream", streamed(client, logprobs=True, top_logprobs=2), *errors)
    bad = OpenAI(api_key="sk-wrong-key-abcdefghijklmnop", base_url=base + "/v1", max_retries=0, timeout=20)
    run("bad_key", plain(bad), *errors)
    run("unknown_model", streamed(client, model="no-such-model"), *errors)
    run("rate_limited", plain(client), *errors)
    run("server_error", plain(client), *errors)
    run("stream_error", streamed(client), *errors)
    run("truncated", streamed(client), *errors)
    run("models", lambda partial: {"ids": [m.id for m in client.models.list()]}, *errors)
    run("embeddings", embeddings(client), *errors)  # the SDK asks for base64 unless told
    run("embeddings_float", embeddings(client, encoding_format="float"), *errors)


if __name__ == "__main__":
    main()
