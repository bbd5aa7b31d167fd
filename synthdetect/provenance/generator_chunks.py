"""Generator-metadata source: text written by AI image tools (A1111/Forge ``parameters``,
ComfyUI ``prompt``/``workflow``, NovelAI, InvokeAI, Fooocus, SwarmUI, Easy Diffusion,
Midjourney job ids, ...) in container text chunks (PNG tEXt/zTXt/iTXt, JPEG COM), EXIF
UserComment/ImageDescription/Artist/Make/Model and XMP UserComment/description.

The recognition rules live in ``_generators.classify_chunk``.
"""

from __future__ import annotations

from typing import Any

from . import _generators
from .base import Analyzer, Context, Findings, Section

_EXIF_ITEMS = (("user_comment", "UserComment"), ("image_description", "ImageDescription"),
               ("artist", "Artist"), ("make", "Make"), ("model", "Model"))
_XMP_ITEMS = (("exif:UserComment", "UserComment"), ("dc:description", "Description"))


class GeneratorChunksAnalyzer(Analyzer):
    """``generator_chunks`` field (reads the EXIF and XMP sources' shared raw values)."""

    name = "generator_chunks"
    empty = {"generator_chunks": []}
    policy = ("a generator metadata chunk (A1111/Forge 'parameters', ComfyUI 'prompt'/'workflow',\n"
              "NovelAI, InvokeAI, Fooocus, SwarmUI, Easy Diffusion, Midjourney job id, ...).")

    def analyze(self, ctx: Context) -> Findings:
        out = Findings()
        chunks: list[dict] = []
        exif = ctx.shared.get("exif", {}).get("raw") or {}
        props = ctx.shared.get("xmp", {}).get("props") or {}
        # binary payloads in text chunks are noted by the container walker, never taken as evidence
        items: list[tuple[str, str, str]] = [(tc.container, tc.key, tc.text) for tc in ctx.container.text_chunks
                                             if not tc.binary]
        for k, label in _EXIF_ITEMS:
            if exif.get(k):
                items.append(("exif", label, exif[k]))
        if (ctx.result.get("xmp") or {}).get("present"):
            for k, label in _XMP_ITEMS:
                for v in props.get(k, [])[:4]:
                    items.append(("xmp", label, v))
        for container, key, text in items:
            if not isinstance(text, str):
                continue
            tool = _generators.classify_chunk(key, text)
            if tool:
                chunks.append({"tool": tool, "key": key, "container": container,
                               "excerpt": _generators.excerpt(text)})
                out.ai_evidence.append(f"{container} '{key}' generator metadata ({tool})")
        out.fields["generator_chunks"] = chunks
        return out

    def sections(self, result: dict[str, Any]) -> list[Section]:
        chunks = result.get("generator_chunks")
        if not chunks:
            return []
        return [Section("table", "Generator metadata",
                        [(g.get("tool"), g.get("container", ""), g.get("key"), g.get("excerpt")) for g in chunks],
                        columns=("tool", "where", "key", "excerpt"))]


GENERATOR_CHUNKS = GeneratorChunksAnalyzer()
