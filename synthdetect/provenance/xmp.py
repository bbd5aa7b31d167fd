"""XMP sources: the XMP/IPTC packet summary (``xmp`` field) and, as a separate step that runs
after C2PA, the explicit ``Iptc4xmpExt:DigitalSourceType`` AI declaration.

Packets come from the container walk (JPEG APP1 incl. extended XMP, PNG iTXt, WebP ``XMP ``,
a marker scan elsewhere) or, when there is none, from Pillow's ``info['xmp']`` (HEIF) which
the EXIF source shares as ``pil_xmp``.
"""

from __future__ import annotations

from typing import Any

from . import _c2pa, _containers, _generators, _xmp
from .base import Analyzer, Context, Findings, Section


def summary(props: dict[str, list[str]], salvaged: bool) -> dict:
    """The ``xmp`` result field from the merged properties of every packet."""
    def first(k):
        v = props.get(k)
        return v[0] if v else None

    return {
        "present": True,
        "digital_source_type": first("Iptc4xmpExt:DigitalSourceType"),
        "digital_source_types": list(props.get("Iptc4xmpExt:DigitalSourceType", [])),
        "creator_tool": first("xmp:CreatorTool"),
        "software": first("tiff:Software"),
        "credit": first("photoshop:Credit"),
        "make": first("tiff:Make"),
        "model": first("tiff:Model"),
        "history_software_agents": list(props.get("stEvt:softwareAgent", []))[:20],
        "c2pa_provenance_ref": first("dcterms:provenance"),
        "user_comment": _generators.excerpt(first("exif:UserComment") or "") or None,
        "description": _generators.excerpt(first("dc:description") or "") or None,
        "salvaged": salvaged,
    }


class XmpAnalyzer(Analyzer):
    """``xmp`` field; shares ``props`` (every property, all values) and ``salvaged``."""

    name = "xmp"
    empty = {"xmp": {"present": False}}

    def analyze(self, ctx: Context) -> Findings:
        out = Findings()
        props: dict[str, list[str]] = {}
        salvaged = False
        packets = list(ctx.container.xmp_packets)
        pil_xmp = ctx.shared.get("exif", {}).get("pil_xmp")
        if pil_xmp and not packets:
            packets.append(pil_xmp[:_containers.MAX_XMP])
        for pkt in packets[:8]:
            p, n = _xmp.parse_xmp(pkt)
            out.notes.extend(n)
            salvaged = salvaged or any("salvaged" in x for x in n)
            for k, vals in p.items():
                for v in vals:
                    _xmp._add(props, k, v)
        out.fields["xmp"] = summary(props, salvaged) if packets else {"present": False}
        out.shared = {"props": props, "salvaged": salvaged}
        return out

    def sections(self, result: dict[str, Any]) -> list[Section]:
        x = result.get("xmp") or {}
        if not x.get("present"):
            return []
        return [Section("fields", "XMP / IPTC", [(k, v) for k, v in x.items() if k != "present"])]


class XmpSourceTypeAnalyzer(Analyzer):
    """AI evidence from the XMP DigitalSourceType (reads the ``xmp`` field; no field of its own)."""

    name = "xmp_source_type"
    policy = ("an XMP/IPTC Iptc4xmpExt:DigitalSourceType with one of those two AI values outside C2PA\n"
              "(unsigned, so trivially added or removed - still an explicit declaration).")

    def analyze(self, ctx: Context) -> Findings:
        out = Findings()
        xmp = ctx.result.get("xmp") or {}
        salvaged = ctx.shared.get("xmp", {}).get("salvaged", False)
        for dst in xmp.get("digital_source_types", []) if xmp.get("present") else []:
            name = _c2pa.dst_name(dst)
            how = " (salvaged from malformed XMP)" if salvaged else ""
            if name in _c2pa.AI_SOURCE_TYPES:
                out.ai_evidence.append(f"XMP Iptc4xmpExt:DigitalSourceType {name}{how} (unsigned metadata)")
            elif name in _c2pa.OTHER_SYNTHETIC_TYPES:
                out.notes.append(f"XMP DigitalSourceType {name}: {_c2pa.OTHER_SYNTHETIC_TYPES[name]}; "
                                 f"not counted as AI evidence")
        return out


XMP = XmpAnalyzer()
XMP_SOURCE_TYPE = XmpSourceTypeAnalyzer()
