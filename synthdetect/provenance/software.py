"""Software-string source: a known generator name (``_generators.SOFTWARE_PATTERNS``) in a
Software-like field (EXIF Software, XMP CreatorTool/tiff:Software, XMP history software agents, a
container text chunk named ``Software``, ``Source``, ...), or a credit line naming one as the whole
of a free-text field (EXIF ImageDescription/Artist, XMP photoshop:Credit: "Made with Google AI").
A free-text field that merely mentions a name ("Firefly glowing at dusk", "Gemini Studio") is a
note, never evidence: captions are about the picture, not its making.
"""

from __future__ import annotations

from typing import Any

from . import _generators
from .base import Analyzer, Context, Findings, Section

_TEXT_KEYS = ("software", "source", "creator", "generator", "creation software")


def _software_fields(exif: dict, xmp: dict, container) -> list[tuple[str, str]]:
    out = [("EXIF Software", exif["software"])] if exif.get("software") else []
    for k, label in (("creator_tool", "XMP CreatorTool"), ("software", "XMP tiff:Software")):
        if xmp.get(k):
            out.append((label, xmp[k]))
    out += [("XMP history softwareAgent", a) for a in xmp.get("history_software_agents", []) or []]
    out += [(f"{tc.container} '{tc.key}'", tc.text[:500]) for tc in container.text_chunks
            if tc.key.lower() in _TEXT_KEYS and not tc.binary]
    return out


def _free_text_fields(exif: dict, xmp: dict) -> list[tuple[str, str]]:
    out = [("EXIF Artist", exif["artist"])] if exif.get("artist") else []
    desc = exif.get("image_description")
    if desc and not _generators.looks_like_generator_field(desc):
        out.append(("EXIF ImageDescription", desc))
    if xmp.get("credit"):
        out.append(("XMP photoshop:Credit", xmp["credit"]))
    return out


class SoftwareAnalyzer(Analyzer):
    """``software_generator`` field (reads the EXIF source's raw values and the ``xmp`` field)."""

    name = "software_strings"
    empty = {"software_generator": []}
    policy = ("a known generator name in EXIF Software, XMP CreatorTool/tiff:Software, history software\n"
              "agents or the PNG Software chunk; a credit line naming one as the whole of a caption, artist\n"
              "or Credit field ('Made with Google AI'), not a caption that mentions a name.")

    def analyze(self, ctx: Context) -> Findings:
        out = Findings()
        exif = ctx.shared.get("exif", {}).get("raw") or {}
        xmp = ctx.result.get("xmp") or {}
        found = [(where, value, _generators.match_software(value[:2000]))
                 for where, value in _software_fields(exif, xmp, ctx.container)]
        for where, value in _free_text_fields(exif, xmp):
            gen = _generators.match_credit(value)
            found.append((where, value, gen))
            named = None if gen else _generators.match_software(value[:2000])
            if named:
                out.notes.append(f"{where} mentions {named} ({_generators.excerpt(value, 80)!r}): free text, "
                                 "not counted as provenance")
        sw: list[dict] = []
        seen = set()
        for where, value, gen in found:
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
