"""Software-string source: a known generator name (``_generators.SOFTWARE_PATTERNS``) in EXIF
Software/Artist/ImageDescription, XMP CreatorTool/tiff:Software/photoshop:Credit, XMP history
software agents, or a Software-like container text chunk (PNG ``Software``, ``Source``, ...).
"""

from __future__ import annotations

from typing import Any

from . import _generators
from .base import Analyzer, Context, Findings, Section

_TEXT_KEYS = ("software", "source", "creator", "generator", "creation software")


class SoftwareAnalyzer(Analyzer):
    """``software_generator`` field (reads the EXIF source's raw values and the ``xmp`` field)."""

    name = "software_strings"
    empty = {"software_generator": []}
    policy = ("a known generator name in EXIF Software/ImageDescription/Artist, XMP CreatorTool,\n"
              "Credit ('Made with Google AI'), history software agents, or the PNG Software chunk.")

    def analyze(self, ctx: Context) -> Findings:
        out = Findings()
        exif = ctx.shared.get("exif", {}).get("raw") or {}
        xmp = ctx.result.get("xmp") or {}
        sw: list[dict] = []
        candidates: list[tuple[str, str]] = []
        for k, label in (("software", "EXIF Software"), ("artist", "EXIF Artist")):
            if exif.get(k):
                candidates.append((label, exif[k]))
        desc = exif.get("image_description")
        if not _generators.looks_like_generator_field(desc) and desc:
            candidates.append(("EXIF ImageDescription", desc))
        for k, label in (("creator_tool", "XMP CreatorTool"), ("software", "XMP tiff:Software"),
                         ("credit", "XMP photoshop:Credit")):
            if xmp.get(k):
                candidates.append((label, xmp[k]))
        for a in xmp.get("history_software_agents", []) or []:
            candidates.append(("XMP history softwareAgent", a))
        for tc in ctx.container.text_chunks:
            if tc.key.lower() in _TEXT_KEYS and not tc.binary:
                candidates.append((f"{tc.container} '{tc.key}'", tc.text[:500]))
        seen = set()
        for where, value in candidates:
            gen = _generators.match_software(value[:2000])
            if gen and (where, gen) not in seen:
                seen.add((where, gen))
                sw.append({"field": where, "value": _generators.excerpt(value), "generator": gen})
                out.ai_evidence.append(f"{where} names a generator: {gen} ({_generators.excerpt(value, 80)!r})")
        out.fields["software_generator"] = sw
        return out

    def sections(self, result: dict[str, Any]) -> list[Section]:
        sw = result.get("software_generator")
        if not sw:
            return []
        return [Section("fields", "Generator software strings",
                        [(s.get("field"), f"{s.get('generator')}: {s.get('value')}") for s in sw])]


SOFTWARE_STRINGS = SoftwareAnalyzer()
