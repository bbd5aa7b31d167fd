"""Generator metadata chunks, XMP DigitalSourceType, software strings, camera EXIF."""

from __future__ import annotations

import json

import pytest

from . import provenance_builders as B
from synthdetect.provenance import POLICY, analyze

A1111 = ("a lighthouse at dusk, oil painting\nNegative prompt: blurry\n"
         "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 512x512, "
         "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.9.4")
COMFY_PROMPT = json.dumps({"3": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 20}},
                           "4": {"class_type": "CheckpointLoaderSimple",
                                 "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}}})
COMFY_WORKFLOW = json.dumps({"last_node_id": 9, "nodes": [{"id": 3, "type": "KSampler"}], "links": []})


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


@pytest.mark.parametrize("element_form", [False, True])
def test_xmp_digital_source_type_jpeg(write, element_form):
    pkt = B.xmp_packet(dst="trainedAlgorithmicMedia", element_form=element_form)
    r = analyze(write("x.jpg", B.jpeg_bytes(segments=[(0xE1, B.XMP_SIG + pkt)])))
    assert r["xmp"]["present"] and r["xmp"]["digital_source_type"].endswith("/trainedAlgorithmicMedia")
    assert r["verdict_hint"] == "synthetic"
    assert any("XMP Iptc4xmpExt:DigitalSourceType trainedAlgorithmicMedia" in e for e in r["ai_evidence"])


def test_xmp_in_webp_and_png(write):
    pkt = B.xmp_packet(dst="compositeWithTrainedAlgorithmicMedia", creator_tool="Adobe Photoshop 25.9")
    r = analyze(write("x.webp", B.webp_bytes(xmp=pkt)))
    assert r["xmp"]["creator_tool"] == "Adobe Photoshop 25.9" and r["verdict_hint"] == "synthetic"
    r2 = analyze(write("x.png", B.png_bytes([B.itxt_chunk("XML:com.adobe.xmp", pkt.decode())])))
    assert r2["xmp"]["digital_source_type"].endswith("compositeWithTrainedAlgorithmicMedia")
    assert r2["software_generator"] == []     # Photoshop is not a generator


def test_xmp_digital_capture_is_not_ai(write):
    pkt = B.xmp_packet(dst="digitalCapture", creator_tool="Adobe Lightroom Classic 13.0")
    r = analyze(write("cap.jpg", B.jpeg_bytes(segments=[(0xE1, B.XMP_SIG + pkt)])))
    assert r["xmp"]["digital_source_type"].endswith("digitalCapture")
    assert r["verdict_hint"] is None


@pytest.mark.parametrize("software,gen", [("Adobe Firefly", "Adobe Firefly"), ("DALL·E 3", "DALL-E"),
                                          ("Midjourney v6", "Midjourney"), ("Google Imagen 3", "Imagen"),
                                          ("Made with Google AI", "Google AI")])
def test_software_generator_strings(write, software, gen):
    r = analyze(write("s.jpg", B.jpeg_bytes(exif=B.camera_exif(make="", model="", software=software,
                                                              gps=False, lens=None))))
    assert [s["generator"] for s in r["software_generator"]] == [gen]
    assert r["software_generator"][0]["field"] == "EXIF Software"
    assert r["verdict_hint"] == "synthetic"


def test_xmp_creator_tool_generator(write):
    pkt = B.xmp_packet(creator_tool="Midjourney")
    r = analyze(write("m.jpg", B.jpeg_bytes(segments=[(0xE1, B.XMP_SIG + pkt)])))
    assert r["software_generator"][0] == {"field": "XMP CreatorTool", "value": "Midjourney",
                                          "generator": "Midjourney"}


@pytest.mark.parametrize("kind", ["jpg", "webp", "heic"])
def test_camera_exif_is_weak_only(write, kind):
    ex = B.camera_exif(software="Adobe Photoshop Lightroom Classic 13.0 (Windows)")
    data = {"jpg": B.jpeg_bytes, "webp": B.webp_bytes, "heic": B.heic_bytes}[kind](exif=ex)
    r = analyze(write(f"cam.{kind}", data))
    e = r["exif"]
    assert (e["make"], e["model"], e["lens"]) == ("Canon", "EOS R5", "RF24-105mm F4 L IS USM")
    assert e["gps_present"] is True and e["datetime_original"] == "2024:05:06 07:08:09"
    assert e["source"] == ("exifread" if kind == "jpg" else "pillow")
    assert any("Canon EOS R5" in c for c in r["camera_evidence"])
    assert any("GPS" in c for c in r["camera_evidence"])
    assert r["verdict_hint"] is None and r["ai_evidence"] == []


def test_camera_exif_does_not_override_generator_chunk(write):
    r = analyze(write("both.png", B.png_bytes([(b"eXIf", B.camera_exif()),
                                              B.text_chunk("parameters", A1111)])))
    assert r["camera_evidence"] and r["verdict_hint"] == "synthetic"


def test_plain_photo_nothing(write):
    r = analyze(write("plain.jpg", B.jpeg_bytes()))
    assert r["verdict_hint"] is None
    assert r["ai_evidence"] == [] and r["generator_chunks"] == [] and r["software_generator"] == []
    assert r["c2pa"] == {"present": False} and r["xmp"] == {"present": False}
    assert r["notes"] == []
    r2 = analyze(write("plain.png", B.png_bytes([B.text_chunk("Title", "Holiday 2019")])))
    assert r2["verdict_hint"] is None and r2["notes"] == []


def test_non_generator_text_chunks_are_ignored(write):
    p = write("sw.png", B.png_bytes([B.text_chunk("Software", "GIMP 2.10.36"),
                                    B.text_chunk("Comment", "Created with GIMP"),
                                    B.text_chunk("Description", "stable tables and diffusion of heat")]))
    r = analyze(p)
    assert r["verdict_hint"] is None, r["ai_evidence"]


def test_result_schema_and_policy():
    assert "trainedAlgorithmicMedia" in POLICY and "INVALID" in POLICY and "weak" in POLICY
    assert "compositeWithTrainedAlgorithmicMedia" in POLICY and "algorithmicMedia" in POLICY


def test_contract_keys_json(write):
    r = analyze(write("k.png", B.png_bytes([B.text_chunk("parameters", A1111)])))
    for k in ("ai_evidence", "verdict_hint", "c2pa", "xmp", "generator_chunks", "exif",
              "software_generator", "camera_evidence", "notes"):
        assert k in r
    for k in ("make", "model", "software", "datetime_original", "lens", "gps_present", "source"):
        assert k in r["exif"]
    assert set(r["generator_chunks"][0]) >= {"tool", "key", "excerpt"}
    assert json.loads(json.dumps(r)) == r
