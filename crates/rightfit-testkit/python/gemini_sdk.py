"""Calls a Gemini-protocol server with the official `google-genai` SDK; one JSON line per call.

usage: gemini_sdk.py BASE_URL
The Rust test (tests/it/sdk.rs) scripts the server's answers in the order of these calls.
"""

from google import genai
from google.genai import errors, types

from common import args, run

CONTENTS = "Say hello."


def usage_of(u):
    if u is None:
        return None
    return {"prompt": u.prompt_token_count, "candidates": u.candidates_token_count, "total": u.total_token_count}


def plain(client, model="gemini-test", **config):
    def call(partial):
        r = client.models.generate_content(
            model=model, contents=CONTENTS,
            config=types.GenerateContentConfig(system_instruction="Be brief.", **config))
        return {
            "texts": ["".join(p.text or "" for p in c.content.parts) for c in r.candidates],
            "finish": [c.finish_reason.value if c.finish_reason else None for c in r.candidates],
            "usage": usage_of(r.usage_metadata),
            "response_id": r.response_id,
            "model_version": r.model_version,
        }

    return call


def streamed(client):
    def call(partial):
        finish, usage, chunks = None, None, 0
        for r in client.models.generate_content_stream(model="gemini-test", contents=CONTENTS):
            chunks += 1
            if r.text:
                partial.append(r.text)
            if r.candidates and r.candidates[0].finish_reason:
                finish = r.candidates[0].finish_reason.value
            if r.usage_metadata is not None:
                usage = usage_of(r.usage_metadata)
        return {"text": "".join(partial), "finish": finish, "usage": usage, "chunks": chunks}

    return call


def main():
    base, _ = args()

    def client(key):
        return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=base, timeout=20_000))

    good = client("test-key")
    run("plain", plain(good), errors.APIError, Exception)
    run("stream", streamed(good), errors.APIError, Exception)
    run("candidates2", plain(good, candidate_count=2), errors.APIError, Exception)
    run("bad_key", plain(client("wrong-key")), errors.APIError, Exception)
    run("unknown_model", plain(good, model="no-such-model"), errors.APIError, Exception)
    run("rate_limited", plain(good), errors.APIError, Exception)
    run("stream_error", streamed(good), errors.APIError, Exception)


if __name__ == "__main__":
    main()
