"""Evidence files made by the test builders, one per provenance situation, for the golden test.

Each case is ``name -> (file name, build(chains) -> bytes | None, analyze kwargs)``; ``None``
means "analyze the directory itself" (an unreadable path).  C2PA cases sign with the session's
throw-away CA, so their volatile fields (signing time, manifest label) are masked by
``normalise`` before comparison.  Add a case here when a new situation needs pinning, then
regenerate with ``SYNTHDETECT_REGEN_GOLDEN=1``.
"""

from __future__ import annotations

import json
import random
import re
import zlib

from tests.inputs.icc_builders import display_profile

from . import provenance_builders as B
from .helpers import A1111, COMFY_PROMPT, COMFY_WORKFLOW, mutate

XMP_JPEG = 0xE1


def _xmp_jpeg(pkt: bytes) -> bytes:
    return B.jpeg_bytes(segments=[(XMP_JPEG, B.XMP_SIG + pkt)])


def _bomb() -> bytes:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            + b"".join(b'<!ENTITY %c "&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;">' % ((98 + i,) + (97 + i,) * 10)
                       for i in range(8))
            + b']><x:xmpmeta xmlns:x="adobe:ns:meta/">&i;</x:xmpmeta>')
    return _xmp_jpeg(bomb)


def _truncated_xmp() -> bytes:
    pkt = B.xmp_packet(dst="trainedAlgorithmicMedia", creator_tool="X")
    return _xmp_jpeg(pkt[: pkt.index(b"</rdf:Description>") - 2])


def _bad_com_jpeg() -> bytes:
    jpg = bytearray(B.jpeg_bytes(segments=[(0xFE, b"hello")]))
    jpg[4:6] = b"\xff\xf0"
    return bytes(jpg)


def _fuzzed(seed: int) -> bytes:
    rng = random.Random(seed)
    base = rng.choice([B.webp_bytes(exif=B.camera_exif(), xmp=B.xmp_packet(dst="trainedAlgorithmicMedia")),
                       _xmp_jpeg(B.xmp_packet(dst="trainedAlgorithmicMedia")),
                       B.png_bytes([B.text_chunk("parameters", A1111), (b"eXIf", B.camera_exif())])])
    return mutate(base, rng)


def _sign(src, mime, ch, **kw):
    chain, key, _ = ch
    return B.c2pa_sign(src, mime, chain, key, **kw)


def _tampered(ch) -> bytes:
    signed = bytearray(_sign(B.jpeg_bytes(), "image/jpeg", ch))
    for i in range(len(signed) - 300, len(signed) - 200):
        signed[i] ^= 0x5A
    return bytes(signed)


def _sw(software):
    return lambda c: B.jpeg_bytes(exif=B.camera_exif(make="", model="", software=software, gps=False, lens=None))


CASES: dict = {
    # generator chunks / container text
    "a1111_png": ("a.png", lambda c: B.png_bytes([B.text_chunk("parameters", A1111)]), {}),
    "comfy_png": ("c.png", lambda c: B.png_bytes([B.text_chunk("prompt", COMFY_PROMPT),
                                                  B.itxt_chunk("workflow", COMFY_WORKFLOW, compressed=True)]), {}),
    "novelai_png": ("n.png", lambda c: B.png_bytes([
        B.text_chunk("Software", "NovelAI"),
        B.text_chunk("Comment", json.dumps({"steps": 28, "sampler": "k_euler", "uc": "lowres", "seed": 1,
                                            "scale": 5})),
        B.text_chunk("Title", "AI generated image")]), {}),
    "invokeai_png": ("i.png", lambda c: B.png_bytes([
        B.ztxt_chunk("invokeai_metadata", json.dumps({"positive_prompt": "cat"}).encode())]), {}),
    "fooocus_png": ("f.png", lambda c: B.png_bytes([
        B.text_chunk("parameters", json.dumps({"Prompt": "cat", "Fooocus V2 Expansion": "x"})),
        B.text_chunk("fooocus_scheme", "fooocus")]), {}),
    "swarm_easy_png": ("s.png", lambda c: B.png_bytes([
        B.text_chunk("parameters", json.dumps({"sui_image_params": {"seed": 1}})),
        B.text_chunk("use_stable_diffusion_model", "sd-v1-4"), B.text_chunk("negative_prompt", "ugly"),
        B.text_chunk("Source", "Stable Diffusion 1.5")]), {}),
    "a1111_usercomment_jpg": ("a.jpg", lambda c: B.jpeg_bytes(exif=B.camera_exif(
        make="", model="", gps=False, lens=None, user_comment=b"UNICODE\x00" + A1111.encode("utf-16-be"))), {}),
    "a1111_description_jpg": ("d.jpg", lambda c: B.jpeg_bytes(exif=B.camera_exif(
        make="", model="", gps=False, lens=None, description=A1111)), {}),
    "comfy_webp": ("c.webp", lambda c: B.webp_bytes(exif=B.camera_exif(
        make="workflow:" + COMFY_WORKFLOW, model="prompt:" + COMFY_PROMPT, gps=False, lens=None)), {}),
    "midjourney_png": ("mj.png", lambda c: B.png_bytes([B.itxt_chunk(
        "Description", "a cat --v 6.1 Job ID: 5f2b1c3d-1111-2222-3333-444455556666")]), {}),
    "jpeg_com": ("com.jpg", lambda c: B.jpeg_bytes(segments=[(0xFE, b"Steps: 20, Sampler: Euler a\x00")]), {}),
    # XMP
    "xmp_attr_jpg": ("x.jpg", lambda c: _xmp_jpeg(B.xmp_packet(dst="trainedAlgorithmicMedia")), {}),
    "xmp_elem_jpg": ("x.jpg", lambda c: _xmp_jpeg(B.xmp_packet(dst="trainedAlgorithmicMedia",
                                                                element_form=True)), {}),
    "xmp_webp": ("x.webp", lambda c: B.webp_bytes(xmp=B.xmp_packet(dst="compositeWithTrainedAlgorithmicMedia",
                                                                   creator_tool="Adobe Photoshop 25.9")), {}),
    "xmp_png": ("x.png", lambda c: B.png_bytes([B.itxt_chunk("XML:com.adobe.xmp", B.xmp_packet(
        dst="compositeWithTrainedAlgorithmicMedia", creator_tool="Adobe Photoshop 25.9").decode())]), {}),
    "xmp_capture_jpg": ("cap.jpg", lambda c: _xmp_jpeg(B.xmp_packet(
        dst="digitalCapture", creator_tool="Adobe Lightroom Classic 13.0")), {}),
    "xmp_algorithmic_jpg": ("alg.jpg", lambda c: _xmp_jpeg(B.xmp_packet(dst="algorithmicMedia")), {}),
    "xmp_creator_jpg": ("m.jpg", lambda c: _xmp_jpeg(B.xmp_packet(creator_tool="Midjourney")), {}),
    "xmp_rich_jpg": ("r.jpg", lambda c: _xmp_jpeg(B.xmp_packet(
        creator_tool="GIMP", extra='<photoshop:Credit>Made with Google AI</photoshop:Credit>'
        '<dc:description><rdf:Alt><rdf:li xml:lang="x-default">a cat Job ID: '
        '5f2b1c3d-1111-2222-3333-444455556666</rdf:li></rdf:Alt></dc:description>'
        '<dcterms:provenance xmlns:dcterms="http://purl.org/dc/terms/">https://example.invalid/m.c2pa'
        '</dcterms:provenance>')), {}),
    "xmp_truncated_jpg": ("tx.jpg", lambda c: _truncated_xmp(), {}),
    "xmp_bomb_jpg": ("bomb.jpg", lambda c: _bomb(), {}),
    # software strings
    "sw_firefly_jpg": ("s.jpg", _sw("Adobe Firefly"), {}),
    "sw_dalle_jpg": ("s.jpg", _sw("DALL·E 3"), {}),
    "sw_midjourney_jpg": ("s.jpg", _sw("Midjourney v6"), {}),
    "sw_imagen_jpg": ("s.jpg", _sw("Google Imagen 3"), {}),
    "sw_google_ai_jpg": ("s.jpg", _sw("Made with Google AI"), {}),
    # EXIF / camera
    "camera_jpg": ("cam.jpg", lambda c: B.jpeg_bytes(exif=B.camera_exif(
        software="Adobe Photoshop Lightroom Classic 13.0 (Windows)")), {}),
    "camera_webp": ("cam.webp", lambda c: B.webp_bytes(exif=B.camera_exif(
        software="Adobe Photoshop Lightroom Classic 13.0 (Windows)")), {}),
    "camera_heic": ("cam.heic", lambda c: B.heic_bytes(exif=B.camera_exif(
        software="Adobe Photoshop Lightroom Classic 13.0 (Windows)")), {}),
    "camera_and_params_png": ("both.png", lambda c: B.png_bytes([(b"eXIf", B.camera_exif()),
                                                                 B.text_chunk("parameters", A1111)]), {}),
    "camera_no_lens_jpg": ("nl.jpg", lambda c: B.jpeg_bytes(exif=B.camera_exif(lens=None, gps=False)), {}),
    "camera_profile_jpg": ("np.jpg", lambda c: B.jpeg_bytes(exif=B.camera_exif(
        make="NIKON CORPORATION", model="NIKON D750", lens=None, gps=False), segments=[
        (0xE2, b"ICC_PROFILE\x00\x01\x01" + display_profile("Nikon sRGB 4.0.0.3001",
                                                             ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))))]), {}),
    # nothing
    "plain_jpg": ("plain.jpg", lambda c: B.jpeg_bytes(), {}),
    "plain_png": ("plain.png", lambda c: B.png_bytes([B.text_chunk("Title", "Holiday 2019")]), {}),
    "non_generator_png": ("sw.png", lambda c: B.png_bytes([
        B.text_chunk("Software", "GIMP 2.10.36"), B.text_chunk("Comment", "Created with GIMP"),
        B.text_chunk("Description", "stable tables and diffusion of heat")]), {}),
    # malformed
    "bogus_jumbf_jpg": ("j.jpg", lambda c: B.jpeg_bytes(segments=[(0xEB, b"JP\x00\x01\x00\x00\x00\x01"
                                                                   b"\xff\xff\xff\xf0jumb" + b"\x00" * 20
                                                                   + b"c2pa" + b"\x13" * 40)]), {}),
    "binary_text_png": ("big.png", lambda c: B.png_bytes([(b"tEXt", b"parameters\x00"
                                                           + bytes(range(256)) * (3 * 1024 * 1024 // 256))]), {}),
    "ztxt_bomb_png": ("zb.png", lambda c: B.png_bytes([(b"zTXt", b"Comment\x00\x00"
                                                        + zlib.compress(b"A" * (8 * 1024 * 1024), 9))]), {}),
    "exif_loop_jpg": ("loop.jpg", lambda c: B.jpeg_bytes(segments=[(0xE1, b"Exif\x00\x00" + B.looping_exif())]), {}),
    "exif_loop_webp": ("loop.webp", lambda c: B.webp_bytes(exif=B.looping_exif()), {}),
    "truncated_png": ("t.png", lambda c: B.png_bytes([B.text_chunk("parameters", "Steps: 20, Sampler: Euler a")])[:-30],
                      {}),
    "truncated_jpg": ("t.jpg", lambda c: _bad_com_jpeg(), {}),
    "garbage_jpg": ("g.jpg", lambda c: b"\xff\xd8\xff" + b"\x00" * 100, {}),
    "empty_png": ("e.png", lambda c: b"", {}),
    "directory": ("", None, {}),
    "random_bin": ("rnd.bin", lambda c: bytes((i * 97) % 251 for i in range(50000)), {}),
    "max_bytes_png": ("mb.png", lambda c: B.png_bytes([B.text_chunk("parameters", A1111)]), {"max_bytes": 2000}),
    **{f"fuzz_{i}": (f"fz{i}.bin", (lambda c, i=i: _fuzzed(1000 + i)), {}) for i in range(12)},
    # C2PA (signed here; volatile fields masked)
    "c2pa_jpg": ("firefly.jpg", lambda c: _sign(B.jpeg_bytes(), "image/jpeg", c["es256"]), {}),
    "c2pa_png": ("firefly.png", lambda c: _sign(B.png_bytes(), "image/png", c["es256"]), {}),
    "c2pa_ps256_jpg": ("ps.jpg", lambda c: _sign(B.jpeg_bytes(), "image/jpeg", c["ps256"], alg="ps256"), {}),
    "c2pa_trusted_jpg": ("t.jpg", lambda c: _sign(B.jpeg_bytes(), "image/jpeg", c["es256"]),
                         {"trust_anchors": "es256"}),
    "c2pa_tampered_jpg": ("tampered.jpg", lambda c: _tampered(c["es256"]), {}),
    "c2pa_capture_jpg": ("cam.jpg", lambda c: _sign(B.jpeg_bytes(), "image/jpeg", c["es256"], dst="digitalCapture",
                                                    generator="TestCam"), {}),
    "c2pa_composite_png": ("comp.png", lambda c: _sign(B.png_bytes(), "image/png", c["es256"],
                                                       dst="compositeWithTrainedAlgorithmicMedia"), {}),
    "c2pa_algorithmic_png": ("fractal.png", lambda c: _sign(B.png_bytes(seed=3), "image/png", c["es256"],
                                                            dst="algorithmicMedia", generator="Fractal Studio"), {}),
    "c2pa_with_camera_exif_jpg": ("ce.jpg", lambda c: _sign(B.jpeg_bytes(exif=B.camera_exif()), "image/jpeg",
                                                            c["es256"]), {}),
    "c2pa_truncated_jpg": ("big.jpg", lambda c: _sign(B.jpeg_bytes(), "image/jpeg", c["es256"]),
                           {"cut": 1000}),
}

_VOLATILE = re.compile(r"urn:(?:uuid|c2pa):[0-9A-Za-z:._-]+")


def normalise(result: dict, tmp: str, signed: bool = False) -> dict:
    """The analyze() result with the temporary directory and object addresses masked; for a file signed in the test
    run (``signed``) also the per-signature fields: signing time, manifest label, and the byte
    counts (a DER signature's length varies by a byte)."""
    text = json.dumps(result, ensure_ascii=False).replace(tmp, "<tmp>")
    r = json.loads(re.sub(r" object at 0x[0-9a-fA-F]+>", " object>", text))   # reprs in parser errors
    if signed:
        c = r.get("c2pa") or {}
        for k in ("signing_time", "active_manifest"):
            if c.get(k) is not None:
                c[k] = "<varies>"
        r["bytes_read"] = "<varies>"
        r["notes"] = [re.sub(r"\d{4,}", "<n>", n) for n in r["notes"]]
    return json.loads(_VOLATILE.sub("<urn>", json.dumps(r, ensure_ascii=False)))
