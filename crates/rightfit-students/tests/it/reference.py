"""Independent reference for the sentence embedder: token ids from the `tokenizers` library and a
BERT forward pass written in numpy (float64) from the safetensors weights, mean-pooled over the
attention mask and L2-normalised, as sentence-transformers computes all-MiniLM-L6-v2.

Usage: python reference.py MODEL_DIR < sentences.json > reference.json
Input: a JSON list of strings. Output: {"ids": [[int]], "embeddings": [[float]]}.
Needs numpy, safetensors and tokenizers (crates/rightfit-testkit/python/requirements.txt).
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MAX_TOKENS = 256  # sentence_bert_config.json max_seq_length

erf = np.vectorize(math.erf)


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def dense(x, t, name):
    return x @ t[name + ".weight"].T + t[name + ".bias"]


def embed(ids, t, config):
    eps = config["layer_norm_eps"]
    heads = config["num_attention_heads"]
    n = len(ids)
    x = (
        t["embeddings.word_embeddings.weight"][ids]
        + t["embeddings.position_embeddings.weight"][:n]
        + t["embeddings.token_type_embeddings.weight"][0]
    )
    x = layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"], eps)
    hd = x.shape[1] // heads
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q = dense(x, t, p + "attention.self.query").reshape(n, heads, hd).transpose(1, 0, 2)
        k = dense(x, t, p + "attention.self.key").reshape(n, heads, hd).transpose(1, 0, 2)
        v = dense(x, t, p + "attention.self.value").reshape(n, heads, hd).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(n, -1)
        a = layer_norm(
            dense(ctx, t, p + "attention.output.dense") + x,
            t[p + "attention.output.LayerNorm.weight"],
            t[p + "attention.output.LayerNorm.bias"],
            eps,
        )
        h = dense(a, t, p + "intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
        x = layer_norm(
            dense(h, t, p + "output.dense") + a,
            t[p + "output.LayerNorm.weight"],
            t[p + "output.LayerNorm.bias"],
            eps,
        )
    pooled = x.mean(0)  # one unpadded sentence: every position is in the mask
    return pooled / np.linalg.norm(pooled)


def main():
    model = Path(sys.argv[1])
    sentences = json.load(sys.stdin)
    tok = Tokenizer.from_file(str(model / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_TOKENS)
    config = json.loads((model / "config.json").read_text())
    tensors = {k: v.astype(np.float64) for k, v in load_file(str(model / "model.safetensors")).items()}
    ids = [tok.encode(s).ids for s in sentences]
    embeddings = [embed(np.array(i), tensors, config).tolist() for i in ids]
    json.dump({"ids": ids, "embeddings": embeddings}, sys.stdout)


if __name__ == "__main__":
    main()
