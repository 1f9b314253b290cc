#!/usr/bin/env python3
"""Trains kvkit's small Llama model on the tokenized splits and exports it in Hugging Face format.

    python3 train.py --data build/data --tokenizer build/tokenizer.json --out ../../models/kvkit-tiny \
        --minutes 100 --threads 2

On a CUDA machine it trains there (bf16 autocast, f32 master weights); the schedule then runs on
tokens (--max-tokens) rather than wall time, since a GPU would otherwise repeat the small corpus
many times over.

Data: <data>/{train,validation,test}.u16 and passkey.{u16,idx} from tokenize.mjs. Training is in two
phases: short sequences first (cheap steps, most of the tokens), then the full context so attention
learns long range and passkey retrieval. Sequences are packed documents; a share of rows are
passkey documents (a key stated early, filler, the question at the end). Validation loss is
measured periodically; the best checkpoint by validation loss is the one exported.
"""
import argparse
import contextlib
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

from model import LlamaLM

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast():
    """bf16 matmuls on the GPU (the model keeps softmax and norms in f32); plain f32 on the CPU."""
    if DEVICE.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16)


def load_u16(path):
    return torch.from_numpy(np.fromfile(path, dtype=np.uint16).astype(np.int64))


class Batches:
    """Random windows of the packed token stream, with a share of rows replaced by passkey documents."""

    def __init__(self, tokens, passkey_tokens, passkey_offsets, passkey_share, generator):
        self.tokens = tokens
        self.passkey_tokens = passkey_tokens
        self.passkey_offsets = passkey_offsets
        self.passkey_share = passkey_share
        self.g = generator

    def row(self, seq_len):
        if self.passkey_share > 0 and torch.rand(1, generator=self.g).item() < self.passkey_share:
            fits = [i for i in self.sample_passkeys(16) if self.passkey_offsets[i + 1] - self.passkey_offsets[i] <= seq_len + 1]
            if fits:
                i = fits[0]
                doc = self.passkey_tokens[self.passkey_offsets[i] : self.passkey_offsets[i + 1]]
                start = torch.randint(0, len(self.tokens) - (seq_len + 1 - len(doc)), (1,), generator=self.g).item()
                return torch.cat([doc, self.tokens[start : start + seq_len + 1 - len(doc)]])
        start = torch.randint(0, len(self.tokens) - seq_len - 1, (1,), generator=self.g).item()
        return self.tokens[start : start + seq_len + 1]

    def sample_passkeys(self, n):
        return torch.randint(0, len(self.passkey_offsets) - 1, (n,), generator=self.g).tolist()

    def batch(self, batch_size, seq_len):
        rows = torch.stack([self.row(seq_len) for _ in range(batch_size)])
        return rows[:, :-1], rows[:, 1:]


@torch.no_grad()
def evaluate(model, tokens, seq_len, max_tokens):
    """Mean next-token loss (nats) over consecutive non-overlapping windows of `tokens`."""
    model.eval()
    total, count = 0.0, 0
    n_windows = min((len(tokens) - 1) // seq_len, max(1, max_tokens // seq_len))
    for w in range(n_windows):
        chunk = tokens[w * seq_len : w * seq_len + seq_len + 1][None].to(DEVICE)
        with autocast():
            logits = model(chunk[:, :-1]).float()
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1), reduction="sum").item()
        count += seq_len
    model.train()
    return total / count


def test_byte_count(path):
    with open(path, encoding="utf-8") as f:
        return sum(len(json.loads(line)["text"].encode("utf-8")) for line in f)


@torch.no_grad()
def passkey_accuracy(model, path, context):
    """Greedy-decodes the answer of each held-out passkey prompt; accuracy by prompt length."""
    model.eval()
    prompts = json.load(open(path))
    by_length = {}
    for p in prompts:
        if len(p["ids"]) + len(p["answer"]) > context:
            continue
        ids = torch.tensor(p["ids"], device=DEVICE)[None]
        out = []
        for _ in range(len(p["answer"])):
            with autocast():
                nxt = model(ids)[0, -1].float().argmax().item()
            out.append(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]], device=DEVICE)], dim=1)
        key = str(p["tokens"])
        hit, total = by_length.get(key, (0, 0))
        by_length[key] = (hit + int(out == p["answer"]), total + 1)
    return {k: round(h / t, 3) for k, (h, t) in by_length.items()}


def save_safetensors(path, tensors):
    """The safetensors format: u64 header length, JSON header (dtype, shape, byte offsets), raw data."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": {torch.float16: "F16", torch.float32: "F32"}[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def export(model, cfg, out, tokenizer_path):
    os.makedirs(out, exist_ok=True)
    state = {k: v.detach().to(torch.float16).cpu() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    save_safetensors(os.path.join(out, "model.safetensors"), state)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(tokenizer_path, encoding="utf-8") as f:
        tokenizer = f.read()
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(tokenizer)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                   "unk_token": None, "model_max_length": cfg["max_position_embeddings"], "clean_up_tokenization_spaces": False,
                   "add_bos_token": False}, f, indent=2)
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 0, "eos_token_id": 0, "max_length": cfg["max_position_embeddings"]}, f, indent=2)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="build/data")
    p.add_argument("--tokenizer", default="build/tokenizer.json")
    p.add_argument("--out", default="../../models/kvkit-tiny")
    p.add_argument("--minutes", type=float, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--intermediate", type=int, default=704)
    p.add_argument("--context", type=int, default=2048)
    p.add_argument("--short-context", type=int, default=256)
    p.add_argument("--long-share", type=float, default=0.35, help="share of the time budget spent at full context")
    p.add_argument("--tokens-per-step", type=int, default=16384)
    p.add_argument("--max-tokens", type=float, default=float("inf"), help="training tokens; the schedule ends at whichever of this and --minutes comes first")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--passkey-share", type=float, default=0.08)
    p.add_argument("--eval-every", type=float, default=15.0, help="minutes between validation runs")
    p.add_argument("--eval-tokens", type=int, default=16384, help="validation tokens per periodic evaluation")
    p.add_argument("--seed", type=int, default=20261126)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    vocab = len(json.load(open(args.tokenizer, encoding="utf-8"))["model"]["vocab"])
    cfg = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": vocab,
        "hidden_size": args.hidden, "intermediate_size": args.intermediate, "num_hidden_layers": args.layers,
        "num_attention_heads": args.heads, "num_key_value_heads": args.kv_heads, "head_dim": args.hidden // args.heads,
        "hidden_act": "silu", "max_position_embeddings": args.context, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "rope_scaling": None, "attention_bias": False, "mlp_bias": False, "tie_word_embeddings": True,
        "bos_token_id": 0, "eos_token_id": 0, "initializer_range": 0.02, "torch_dtype": "float16",
    }
    model = LlamaLM(cfg).to(DEVICE)
    if DEVICE.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        print(f"device: {torch.cuda.get_device_name()}", flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {n_params / 1e6:.2f} M", flush=True)

    train = load_u16(f"{args.data}/train.u16")
    val = load_u16(f"{args.data}/validation.u16")
    pk = load_u16(f"{args.data}/passkey.u16")
    pk_idx = np.fromfile(f"{args.data}/passkey.idx", dtype=np.uint32).astype(np.int64).tolist()
    batches = Batches(train, pk, pk_idx, args.passkey_share, g)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))

    budget = args.minutes * 60
    start = time.time()
    last_eval = start
    warmup = 100
    step = 0
    tokens_seen = 0
    curve = []
    best = (float("inf"), None)
    while True:
        elapsed = time.time() - start
        frac = max(elapsed / budget, tokens_seen / args.max_tokens)
        if frac >= 1:
            break
        seq = args.short_context if frac < 1 - args.long_share else args.context
        bsz = max(1, args.tokens_per_step // seq)
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = (t.to(DEVICE, non_blocking=True) for t in batches.batch(bsz, seq))
        with autocast():
            logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens_seen += x.numel()
        if step % 20 == 0:
            rate = tokens_seen / (time.time() - start)
            print(f"step {step} seq {seq} loss {loss.item():.4f} lr {lr:.2e} tokens {tokens_seen} ({rate:.0f} tok/s) {elapsed / 60:.1f} min", flush=True)
        done = time.time() - start >= budget or tokens_seen >= args.max_tokens
        if time.time() - last_eval > args.eval_every * 60 or done:
            last_eval = time.time()
            v = evaluate(model, val, args.context if seq == args.context else 512, args.eval_tokens)
            curve.append({"step": step, "tokens": tokens_seen, "minutes": round((time.time() - start) / 60, 1), "seq": seq, "train_loss": round(loss.item(), 4), "val_loss": round(v, 4)})
            print(f"== eval step {step}: val loss {v:.4f} (seq {curve[-1]['seq']})", flush=True)
            if seq == args.context and v < best[0]:
                best = (v, {k: t.detach().clone() for k, t in model.state_dict().items()})
    v = evaluate(model, val, args.context, args.eval_tokens)
    curve.append({"step": step, "tokens": tokens_seen, "minutes": round((time.time() - start) / 60, 1), "seq": args.context, "train_loss": round(loss.item(), 4), "val_loss": round(v, 4)})
    if v < best[0]:
        best = (v, None)  # the current weights are the best
    if best[1] is not None:
        model.load_state_dict(best[1])
    # Final numbers with the exported (f16-rounded) weights.
    model.load_state_dict({k: t.to(torch.float16).to(torch.float32) for k, t in model.state_dict().items()})
    final_val = evaluate(model, val, args.context, 131072)
    test = load_u16(f"{args.data}/test.u16")
    test_loss = evaluate(model, test, args.context, 10**9)
    test_windows = (len(test) - 1) // args.context
    test_bytes = test_byte_count(f"{args.data}/test.jsonl") * (test_windows * args.context) / (len(test) - 1)
    test_bpb = test_loss * test_windows * args.context / test_bytes / math.log(2)
    passkey = passkey_accuracy(model, f"{args.data}/passkey-eval.json", args.context)
    export(model, cfg, args.out, args.tokenizer)
    bytes_total = sum(os.path.getsize(f"{args.data}/{s}.u16") // 2 for s in ["validation"])
    report = {
        "parameters": n_params, "steps": step, "tokens_seen": tokens_seen, "minutes": round((time.time() - start) / 60, 1),
        "final_val_loss_nats": round(final_val, 4), "val_tokens": bytes_total,
        "test_loss_nats": round(test_loss, 4), "test_bits_per_byte": round(test_bpb, 4), "passkey": passkey, "curve": curve, "args": vars(args), "threads": args.threads,
        "torch": torch.__version__, "device": torch.cuda.get_device_name() if DEVICE.type == "cuda" else "cpu",
    }
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps({k: v for k, v in report.items() if k != "curve"}), flush=True)


if __name__ == "__main__":
    main()
