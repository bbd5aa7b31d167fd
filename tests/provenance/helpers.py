"""Shared test data and checks for the provenance tests."""

from __future__ import annotations

import json
import time

from synthdetect.provenance import analyze
from synthdetect.provenance.base import Analyzer, Context, Findings, Section

BOUND_S = 5.0     # a correctness bound for malformed input, not a benchmark

A1111 = ("a lighthouse at dusk, oil painting\nNegative prompt: blurry\n"
         "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 512x512, "
         "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.9.4")
COMFY_PROMPT = json.dumps({"3": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 20}},
                           "4": {"class_type": "CheckpointLoaderSimple",
                                 "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}}})
COMFY_WORKFLOW = json.dumps({"last_node_id": 9, "nodes": [{"id": 3, "type": "KSampler"}], "links": []})


def timed(p, **kw):
    """analyze(p) within BOUND_S, its result JSON-serialisable."""
    t0 = time.monotonic()
    r = analyze(p, **kw)
    dt = time.monotonic() - t0
    assert dt < BOUND_S, f"analyze took {dt:.1f} s"
    json.dumps(r)
    return r


def has_note(r, *words):
    return any(all(w.lower() in n.lower() for w in words) for n in r["notes"])


def mutate(data: bytes, rng) -> bytes:
    """1-12 random byte edits of ``data`` (overwrite 70 %, delete up to 400 bytes 15 %, insert up to
    64 random bytes 15 %) drawn from ``rng`` (a ``random.Random``): the fuzz cases' corruption."""
    d = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        op, pos = rng.random(), rng.randrange(len(d))
        if op < 0.7:
            d[pos] = rng.randrange(256)
        elif op < 0.85:
            del d[pos:pos + rng.randint(1, 400)]
        else:
            d[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return bytes(d)


# --------------------------------------------------------------------------- a toy source ("How to add")
TOY_KEY = "x-dreamforge"      # a made-up PNG text key


class ToyAnalyzer(Analyzer):
    name = "toy_dreamforge"
    empty = {"dreamforge": {"present": False}}
    policy = f"a PNG '{TOY_KEY}' text chunk (the toy source of the tests)."

    def analyze(self, ctx: Context) -> Findings:
        out = Findings()
        for tc in ctx.container.text_chunks:
            if tc.key == TOY_KEY:
                out.fields["dreamforge"] = {"present": True, "model": tc.text}
                out.ai_evidence.append(f"{tc.container} '{TOY_KEY}' names DreamForge model {tc.text}")
        return out

    def sections(self, result):
        d = result.get("dreamforge") or {}
        return [Section("fields", "DreamForge", [("model", d.get("model"))])] if d.get("present") else []
