"""Generator-metadata source: tool text in PNG chunks, EXIF and XMP strings."""

from __future__ import annotations

import json

from synthdetect.provenance import analyze

from . import provenance_builders as B
from .helpers import A1111, COMFY_PROMPT, COMFY_WORKFLOW


def _tools(r):
    return {(g["key"], g["tool"]) for g in r["generator_chunks"]}


def test_a1111_parameters_png(write):
    r = analyze(write("a.png", B.png_bytes([B.text_chunk("parameters", A1111)])))
    assert ("parameters", "Automatic1111/Forge") in _tools(r)
    g = r["generator_chunks"][0]
    assert g["excerpt"].startswith("a lighthouse") and len(g["excerpt"]) <= 201
    assert r["verdict_hint"] == "synthetic"
    assert any("parameters" in e and "Automatic1111" in e for e in r["ai_evidence"])


def test_comfyui_prompt_and_workflow_png(write):
    p = write("c.png", B.png_bytes([B.text_chunk("prompt", COMFY_PROMPT),
                                   B.itxt_chunk("workflow", COMFY_WORKFLOW, compressed=True)]))
    r = analyze(p)
    assert {("prompt", "ComfyUI"), ("workflow", "ComfyUI")} <= _tools(r)
    assert r["verdict_hint"] == "synthetic"


def test_novelai_invokeai_fooocus_png(write):
    nai = B.png_bytes([B.text_chunk("Software", "NovelAI"),
                       B.text_chunk("Comment", json.dumps({"steps": 28, "sampler": "k_euler", "uc": "lowres",
                                                           "seed": 1, "scale": 5}))])
    r = analyze(write("n.png", nai))
    assert ("Comment", "NovelAI") in _tools(r) and ("Software", "NovelAI") in _tools(r)
    assert any(s["generator"] == "NovelAI" for s in r["software_generator"])
    inv = B.png_bytes([B.ztxt_chunk("invokeai_metadata", json.dumps({"positive_prompt": "cat"}).encode())])
    assert ("invokeai_metadata", "InvokeAI") in _tools(analyze(write("i.png", inv)))
    foo = B.png_bytes([B.text_chunk("parameters", json.dumps({"Prompt": "cat", "Fooocus V2 Expansion": "x"})),
                       B.text_chunk("fooocus_scheme", "fooocus")])
    assert ("parameters", "Fooocus") in _tools(analyze(write("f.png", foo)))


def test_a1111_in_jpeg_exif_usercomment(write):
    uc = b"UNICODE\x00" + A1111.encode("utf-16-be")
    r = analyze(write("a.jpg", B.jpeg_bytes(exif=B.camera_exif(make="", model="", gps=False, lens=None,
                                                              user_comment=uc))))
    assert ("UserComment", "Automatic1111/Forge") in _tools(r)
    assert r["verdict_hint"] == "synthetic"


def test_comfyui_webp_exif_strings(write):
    ex = B.camera_exif(make="workflow:" + COMFY_WORKFLOW, model="prompt:" + COMFY_PROMPT, gps=False, lens=None)
    r = analyze(write("c.webp", B.webp_bytes(exif=ex)))
    assert r["exif"]["source"] == "pillow"
    assert ("Make", "ComfyUI") in _tools(r) and ("Model", "ComfyUI") in _tools(r)
    assert r["camera_evidence"] == []         # generator JSON in Make/Model is not a camera


def test_midjourney_description(write):
    p = write("mj.png", B.png_bytes([B.itxt_chunk(
        "Description", "a cat --v 6.1 Job ID: 5f2b1c3d-1111-2222-3333-444455556666")]))
    assert ("Description", "Midjourney") in _tools(analyze(p))


def test_non_generator_text_chunks_are_ignored(write):
    p = write("sw.png", B.png_bytes([B.text_chunk("Software", "GIMP 2.10.36"),
                                    B.text_chunk("Comment", "Created with GIMP"),
                                    B.text_chunk("Description", "stable tables and diffusion of heat")]))
    r = analyze(p)
    assert r["verdict_hint"] is None, r["ai_evidence"]

