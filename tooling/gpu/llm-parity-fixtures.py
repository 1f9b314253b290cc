#!/usr/bin/env python3
"""Hugging Face transformers parity fixtures for @kvkit/llm (run where transformers is installed).

For each architecture variant of the independent PyTorch reference (tooling/fixtures/llm_reference.py)
this builds a tiny random-initialized model with transformers' own classes (the config.json the
reference writes, read by AutoConfig as a Hub config is), saves it with
save_pretrained(safe_serialization=True), reloads it from disk in float32 with eager attention and
writes reference.json with:

- prefill_logits: the logits of the prompt (one forward pass, use_cache=True),
- decode_logits:  the logits of each continuation token fed one at a time through transformers'
                  own KV cache (past_key_values), as generation does,
- full_logits:    one forward pass over prompt + continuation without a cache (cross-check),
- greedy:         6 greedy tokens after the prompt (full recomputation), with the smallest
                  top-1/top-2 logit gap seen,
- native:         for f16/bf16 checkpoints, full_logits computed in that dtype (on the GPU when
                  there is one), for a loose check of reduced-precision compute.

It also encodes a few texts with the Rust `tokenizers` library and models/kvkit-tiny/tokenizer.json
(tokenizer-kvkit-tiny.json), for a parity check of @huggingface/tokenizers.

No weights are downloaded: everything is random-initialized here. Each fixture stays well under
300 KB. For Llama, Mistral and Qwen2 the script checks that transformers applied what the config asks
for (RoPE inverse frequencies, sliding window, biases, tying), so a config field silently ignored fails
loudly. A variant whose family the installed transformers lacks (or that fails) is reported and
skipped; the others are still written, and the run ends with the list of those skipped.

    python3 tooling/gpu/llm-parity-fixtures.py --out /tmp/fixtures/transformers
"""
import argparse
import json
import math
import os
import shutil
import sys

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config

# The variants, their dimensions and token counts are those of the independent PyTorch reference, so
# both fixture sets cover the same cases.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import llm_reference as shared  # noqa: E402

V5 = int(transformers.__version__.split(".")[0]) >= 5
CONFIG_CLASSES = {"llama": LlamaConfig, "mistral": MistralConfig, "qwen2": Qwen2Config}
TORCH_DTYPE = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
PROMPT_TOKENS, DECODE_TOKENS, GREEDY_TOKENS = shared.PROMPT_TOKENS, shared.DECODE_TOKENS, shared.GREEDY_TOKENS

TOKENIZER_TEXTS = [
    "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse,",
    "It is a way I have of driving off the spleen, and regulating the circulation.",
    "Mr. President, Mr. Speaker, Members of Congress: in 1851 the whale-ship sailed; $42.50 was paid.",
    "  leading spaces, trailing spaces  \n\nand\ttabs\r\n",
    "naïve café “quoted” ½ ∑ Ишмаэль 白鯨 🐋",
    "Subject: Re: [SAtalk] spam? <|endoftext|> next document",
    "",
]


def variants():
    """name → (config dict without rope fields, rope_theta, rope scaling, saved dtype, save options)."""
    out = {}
    for name, spec in shared.ARCHITECTURES.items():
        cfg = shared.fixture_config(spec)
        cfg.pop("architectures", None)
        cfg.pop("torch_dtype", None)
        theta = cfg.pop("rope_theta", None)
        scaling = cfg.pop("rope_scaling", None)
        out[name] = (cfg, theta, scaling, TORCH_DTYPE[spec["dtype"]], {})
    # A sharded checkpoint as save_pretrained writes it (model.safetensors.index.json + shards).
    out["llama-sharded"] = out["llama"][:4] + (dict(max_shard_size="40KB"),)
    return out


def make_config(cfg, theta, scaling):
    kwargs = dict(cfg)
    if kwargs["model_type"] not in CONFIG_CLASSES:
        # Any other family: its config.json fields as a Hub checkpoint's, through AutoConfig.
        rope = {} if theta is None else {"rope_theta": theta}
        return AutoConfig.for_model(**kwargs, **rope, **({"rope_scaling": scaling} if scaling else {}))
    cls = CONFIG_CLASSES[kwargs.pop("model_type")]
    if V5:
        params = {"rope_type": "default", "rope_theta": theta}
        if scaling:
            params.update(scaling)
        return cls(rope_parameters=params, **kwargs)
    return cls(rope_theta=theta, rope_scaling=scaling, **kwargs)


def reinitialize(model, gen):
    """HF's std 0.02 init gives near-uniform logits; larger weights make attention and the MLP matter.
    Routers are scaled up so that each token's choice of experts is clear-cut; experts stored stacked
    ([experts, out, in]) are initialized per matrix; LFM2-MoE's expert_bias buffer is drawn too."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("embed_tokens.weight", "embed_in.weight", "embeddings.weight")):  # (Nemotron-H: backbone.embeddings)
                p.copy_(torch.randn(p.shape, generator=gen))
            elif name.endswith(".bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
            elif p.dim() == 1:  # norm weights (Gemma's are stored as scale − 1 and read as 1 + weight)
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            elif p.dim() in (2, 3):
                router = name.endswith(("mlp.gate.weight", "block_sparse_moe.gate.weight", "router.layer.weight", "router.weight"))
                sigmoid_router = name.endswith("feed_forward.gate.weight")  # LFM2-MoE scores by sigmoid: ×2, as the PyTorch reference
                p.copy_((4 if router else 2 if sigmoid_router else 1) * torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[-1]))
            else:
                raise RuntimeError(f"unexpected parameter {name}")
        for name, b in model.named_buffers():
            if name.endswith("expert_bias"):  # LFM2-MoE's selection bias is a buffer (zeros at init): make it move choices
                b.copy_(0.3 * torch.randn(b.shape, generator=gen))
    model.tie_weights()


def load(directory, dtype, device="cpu"):
    kwargs = {"dtype": dtype} if V5 else {"torch_dtype": dtype}
    model = AutoModelForCausalLM.from_pretrained(directory, attn_implementation="eager", **kwargs)
    return model.to(device).eval()


def check_semantics(model, cfg, theta, scaling, name):
    """Fails when transformers did not apply a config field the fixture is about (Llama, Mistral, Qwen2;
    the other families are checked by the runtime's parity with both references)."""
    if cfg["model_type"] not in CONFIG_CLASSES:
        return
    config = model.config
    inv = model.model.rotary_emb.inv_freq.double().cpu()
    want = shared.inverse_frequencies({**cfg, "rope_theta": theta, "rope_scaling": scaling}).double()
    if not torch.allclose(inv, want, rtol=1e-5, atol=0):
        raise RuntimeError(f"{name}: rotary inv_freq {inv.tolist()} differs from the expected {want.tolist()}")
    if cfg["model_type"] == "mistral" and config.sliding_window != cfg["sliding_window"]:
        raise RuntimeError(f"{name}: sliding_window not applied")
    attn = model.model.layers[0].self_attn
    if config.model_type == "qwen2" and attn.q_proj.bias is None:
        raise RuntimeError(f"{name}: Qwen2 q_proj has no bias")
    if cfg.get("attention_bias") and attn.o_proj.bias is None:
        raise RuntimeError(f"{name}: attention_bias not applied")
    if config.tie_word_embeddings and model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr():
        raise RuntimeError(f"{name}: embeddings not tied")


@torch.no_grad()
def references(model, ids):
    prompt = torch.tensor([ids[:PROMPT_TOKENS]])
    out = model(input_ids=prompt, use_cache=True)
    prefill = out.logits[0]
    past = out.past_key_values
    decode = []
    for t in range(PROMPT_TOKENS, len(ids)):
        out = model(input_ids=torch.tensor([[ids[t]]]), past_key_values=past, use_cache=True)
        past = out.past_key_values
        decode.append(out.logits[0, -1])
    full = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0]
    greedy, gap = list(ids[:PROMPT_TOKENS]), float("inf")
    for _ in range(GREEDY_TOKENS):
        last = model(input_ids=torch.tensor([greedy]), use_cache=False).logits[0, -1]
        top = torch.topk(last, 2).values
        gap = min(gap, float(top[0] - top[1]))
        greedy.append(int(last.argmax()))
    return prefill, torch.stack(decode), full, greedy[PROMPT_TOKENS:], gap


def build(name, spec, out, seed):
    cfg, theta, scaling, dtype, save_options = spec
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    config = make_config(cfg, theta, scaling)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager").float().eval()
    reinitialize(model, gen)
    directory = os.path.join(out, name)
    os.makedirs(directory, exist_ok=True)
    model.to(dtype).save_pretrained(directory, safe_serialization=True, **save_options)

    reloaded = load(directory, torch.float32)
    check_semantics(reloaded, cfg, theta, scaling, name)
    ids = torch.randint(1, config.vocab_size, (PROMPT_TOKENS + DECODE_TOKENS,), generator=gen).tolist()
    prefill, decode, full, greedy, gap = references(reloaded, ids)
    cross = float((torch.cat([prefill, decode]) - full).norm() / full.norm())
    if cross > 1e-5:
        raise RuntimeError(f"{name}: cached decode and full forward disagree ({cross:.2e})")
    reference = {
        "source": f"transformers {transformers.__version__} (torch {torch.__version__}, eager attention, float32 on CPU)",
        "seed": seed,
        "weights_dtype": str(dtype).replace("torch.", ""),
        "prompt_tokens": PROMPT_TOKENS,
        "ids": ids,
        "prefill_logits": shared.rounded(prefill),
        "decode_logits": shared.rounded(decode),
        "full_logits": shared.rounded(full),
        "greedy": {"ids": greedy, "min_top2_gap": gap},
    }
    if dtype != torch.float32:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        native = load(directory, dtype, device)
        with torch.no_grad():
            logits = native(input_ids=torch.tensor([ids], device=device), use_cache=False).logits[0].float().cpu()
        reference["native"] = {"dtype": str(dtype).replace("torch.", ""), "device": device, "full_logits": shared.rounded(logits)}
    with open(os.path.join(directory, "reference.json"), "w") as f:
        json.dump(reference, f)
    size = sum(os.path.getsize(os.path.join(directory, n)) for n in os.listdir(directory))
    if size > 300 * 1024:
        raise RuntimeError(f"{name}: fixture is {size} bytes, over 300 KB")
    print(f"{name}: {sorted(os.listdir(directory))}, {size / 1024:.0f} KiB, greedy gap {gap:.3g}, cache/full {cross:.1e}", flush=True)


def tokenizer_reference(tokenizer_path, out):
    from tokenizers import Tokenizer  # the Rust library

    tok = Tokenizer.from_file(tokenizer_path)
    entries = []
    for text in TOKENIZER_TEXTS:
        ids = tok.encode(text, add_special_tokens=True).ids
        entries.append({"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)})
    import tokenizers

    with open(os.path.join(out, "tokenizer-kvkit-tiny.json"), "w", encoding="utf-8") as f:
        json.dump({"source": f"tokenizers {tokenizers.__version__} (Rust), models/kvkit-tiny/tokenizer.json", "texts": entries}, f, ensure_ascii=False)
    print(f"tokenizer: {len(entries)} texts", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--tokenizer", default="models/kvkit-tiny/tokenizer.json")
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()
    torch.set_num_threads(4)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, cuda {torch.cuda.is_available()}", flush=True)
    os.makedirs(args.out, exist_ok=True)
    skipped = []
    for i, (name, spec) in enumerate(variants().items()):
        try:
            build(name, spec, args.out, args.seed + i)
        except Exception as error:  # a family this transformers lacks, or one that fails: the others still run
            skipped.append(name)
            shutil.rmtree(os.path.join(args.out, name), ignore_errors=True)
            print(f"{name}: SKIPPED ({type(error).__name__}: {error})", flush=True)
    if os.path.exists(args.tokenizer):
        tokenizer_reference(args.tokenizer, args.out)
    print(f"skipped: {skipped}" if skipped else "every variant written", flush=True)


if __name__ == "__main__":
    main()
