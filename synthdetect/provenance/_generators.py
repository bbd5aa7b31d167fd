"""Recognition of generator metadata written by AI image tools.

Facts used (verified against the tools' documented / observed output formats):

* Automatic1111 / Forge / SD.Next: PNG text chunk ``parameters`` holding
  ``<prompt>\\nNegative prompt: ...\\nSteps: N, Sampler: ..., CFG scale: ..., Seed: ...``;
  in JPEG/WebP the same text goes into EXIF ``UserComment``.
* ComfyUI: PNG text chunks ``prompt`` (API graph JSON, nodes with ``class_type``) and
  ``workflow`` (UI graph JSON with ``nodes``/``links``); its WebP saver writes
  ``prompt:{...}`` / ``workflow:{...}`` strings into EXIF ASCII tags.
* NovelAI: PNG ``Software: NovelAI``, ``Source: NovelAI Diffusion ...`` /
  ``Stable Diffusion ...``, ``Comment`` JSON (``steps``, ``sampler``, ``uc`` ...),
  ``Title: AI generated image``.
* InvokeAI: ``invokeai_metadata`` / ``invokeai_graph`` / ``invokeai_workflow`` (v3+),
  ``sd-metadata`` (v2 JSON), ``Dream`` (v1 command line).
* Fooocus: ``fooocus_scheme`` chunk, and ``parameters`` JSON carrying Fooocus keys.
* SwarmUI: ``parameters`` JSON with ``sui_image_params``.
* Easy Diffusion: chunks such as ``use_stable_diffusion_model``.
* Midjourney: PNG/XMP ``Description`` text ending in ``Job ID: <uuid>``, ``Author`` etc.
"""

from __future__ import annotations

import json
import re

EXCERPT_CHARS = 200

_A1111_RE = re.compile(r"Steps: ?\d+, ?Sampler: ?[^,\n]+", re.I)
_MJ_JOB_RE = re.compile(r"Job ID: ?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)

# Known generator names in Software / CreatorTool / Credit / free text.
# (display name, compiled pattern) — word-bounded to avoid matching e.g. "imagenet".
SOFTWARE_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("Adobe Firefly", re.compile(r"\bfirefly\b", re.I)),
    ("DALL-E", re.compile(r"\bdall[^a-z0-9]{0,3}e\b", re.I)),
    ("Midjourney", re.compile(r"\bmidjourney\b", re.I)),
    ("Stable Diffusion", re.compile(r"\bstable[\s\-_]?diffusion\b|\bSDXL\b", re.I)),
    ("Imagen", re.compile(r"\bimagen\s?[1-9]\b|\bgoogle imagen\b|^\s*imagen\s*$", re.I)),
    ("Google AI", re.compile(r"\b(made|edited) with google ai\b|\bgoogle ai\b|\bgemini\b", re.I)),
    ("NovelAI", re.compile(r"\bnovel\s?ai\b", re.I)),
    ("ComfyUI", re.compile(r"\bcomfy\s?ui\b", re.I)),
    ("Automatic1111", re.compile(r"\bautomatic1111\b|\bstable-diffusion-webui\b", re.I)),
    ("InvokeAI", re.compile(r"\binvoke\s?ai\b", re.I)),
    ("Fooocus", re.compile(r"\bfooocus\b", re.I)),
    ("FLUX", re.compile(r"\bflux\.1\b|\bblack forest labs\b", re.I)),
    ("Ideogram", re.compile(r"\bideogram\b", re.I)),
    ("Leonardo.Ai", re.compile(r"\bleonardo\.ai\b", re.I)),
    ("Bing Image Creator", re.compile(r"\bbing image creator\b", re.I)),
    ("Microsoft Designer", re.compile(r"\bmicrosoft designer\b", re.I)),
    ("OpenAI", re.compile(r"\bopenai\b|\bchatgpt\b|\bgpt-image\b", re.I)),
    ("Draw Things", re.compile(r"\bdraw things\b", re.I)),
    ("Diffusers", re.compile(r"\bdiffusers\b", re.I)),
]


def match_software(value: str) -> str | None:
    """Name of a known generator mentioned in a Software-like string, else None."""
    for name, pat in SOFTWARE_PATTERNS:
        if pat.search(value):
            return name
    return None


# A free-text field (caption, artist, credit) counts only as a credit line: the whole (short) value
# says the image was made with a generator ("Made with Google AI", "Generated with Midjourney v6").
# A caption that mentions a name ("Firefly glowing at dusk", "CEO of OpenAI", "Gemini North
# telescope") is about the picture, not its making.
CREDIT_LINE = re.compile(
    r"^\s*(?:this\s+)?(?:image|picture|photo|artwork)?\s*(?:was\s+)?"
    r"(?:made|edited|created|generated|rendered|produced)\s+(?:with|by|using|in|via)\s+(?P<tool>.{2,60}?)[\s.!]*$",
    re.I)
CREDIT_MAX_CHARS = 80
_CREDIT_LEADS = {"", "adobe", "google", "google's", "openai", "openai's", "openai’s", "microsoft", "the"}


def match_credit(value: str) -> str | None:
    """Generator named by a free-text field that is a credit line as a whole, else None."""
    if len(value.strip()) > CREDIT_MAX_CHARS:
        return None
    m = CREDIT_LINE.match(value)
    if not m:
        return None
    tool = m.group("tool")
    for name, pat in SOFTWARE_PATTERNS:  # the name must open the tool part ("love in Firefly, Idaho" is no credit)
        hit = pat.search(tool)
        if hit and tool[:hit.start()].strip().lower() in _CREDIT_LEADS:
            return name
    return None


def excerpt(text: str, n: int = EXCERPT_CHARS) -> str:
    text = text.replace("\r", " ")
    return text if len(text) <= n else text[:n] + "…"


def _json(text: str):
    t = text.strip()
    if not t or t[0] not in "{[" or len(t) > 2 * 1024 * 1024:
        return None
    try:
        return json.loads(t)
    except (ValueError, RecursionError):
        return None


def _comfy_prompt(obj) -> bool:
    return isinstance(obj, dict) and any(isinstance(v, dict) and "class_type" in v
                                         for v in list(obj.values())[:500])


def _comfy_workflow(obj) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("nodes"), list) and "links" in obj


def classify_chunk(key: str, text: str) -> str | None:
    """Return the tool name when a (key, text) metadata item is generator metadata."""
    k = key.strip().lower()
    t = text
    if k == "parameters":
        obj = _json(t)
        if isinstance(obj, dict):
            if "sui_image_params" in obj:
                return "SwarmUI"
            if any(x in obj for x in ("fooocus_scheme", "full_prompt", "Fooocus V2 Expansion")) \
                    or "fooocus" in t[:4096].lower():
                return "Fooocus"
            return "Stable Diffusion front-end (JSON 'parameters')"
        if _A1111_RE.search(t[:65536]):
            return "Automatic1111/Forge"
        if t.strip():
            return "Stable Diffusion front-end ('parameters' chunk)"
        return None
    if k == "prompt":
        obj = _json(t)
        if _comfy_prompt(obj):
            return "ComfyUI"
        if obj is not None or t.strip():
            # Easy Diffusion and others also write a bare 'prompt' chunk
            return "ComfyUI" if "class_type" in t[:65536] else "image generator ('prompt' chunk)"
        return None
    if k == "workflow":
        obj = _json(t)
        if _comfy_workflow(obj) or '"nodes"' in t[:65536]:
            return "ComfyUI"
        return None
    if k in ("invokeai_metadata", "invokeai_graph", "invokeai_workflow", "sd-metadata", "dream"):
        return "InvokeAI"
    if k == "fooocus_scheme":
        return "Fooocus"
    if k in ("use_stable_diffusion_model", "use_vae_model", "negative_prompt") and t.strip():
        return "Easy Diffusion" if k.startswith("use_") else "image generator ('negative_prompt')"
    if k == "software" and re.search(r"\bnovel\s?ai\b", t, re.I):
        return "NovelAI"
    if k == "source" and re.search(r"novelai diffusion|stable diffusion", t, re.I):
        return "NovelAI" if "novelai" in t.lower() else "Stable Diffusion"
    if k == "comment":
        obj = _json(t)
        if isinstance(obj, dict) and {"steps", "sampler"} <= set(obj) and ("uc" in obj or "n_samples" in obj
                                                                            or "scale" in obj):
            return "NovelAI"
        if isinstance(obj, dict) and {"steps", "sampler", "seed"} <= set(obj):
            return "Stable Diffusion front-end (JSON 'Comment')"
    if k == "title" and t.strip().lower() == "ai generated image":
        return "NovelAI"
    if k in ("description", "comment", "", "usercomment", "imagedescription", "author"):
        if _MJ_JOB_RE.search(t[:65536]):
            return "Midjourney"
        if _A1111_RE.search(t[:65536]):
            return "Automatic1111/Forge"
    low = t[:4096].lstrip().lower()
    if low.startswith("prompt:{") or low.startswith("prompt: {"):
        return "ComfyUI"
    if low.startswith("workflow:{") or low.startswith("workflow: {"):
        return "ComfyUI"
    return None


def looks_like_generator_field(value: str | None) -> bool:
    """A Make/Model/ImageDescription that holds generator text (a prompt, a JSON graph), not a name."""
    if not value:
        return False
    low = value.lstrip().lower()
    return len(value) > 160 or low.startswith(("prompt:", "workflow:", "{", "["))
