//! Request parsing and response rendering for the OpenAI and Anthropic APIs.
