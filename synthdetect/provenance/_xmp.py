"""Minimal, defensive XMP reader.

XMP is RDF/XML.  We need only a handful of properties, so rather than pull in
a full XMP toolkit we parse with ``defusedxml.ElementTree`` (the maintained, safe
wrapper of the standard library's expat parser: DTDs, entity declarations and
external references are refused, so no XML bomb or XXE can get through), and
collect every property (attribute form and element form, including
``rdf:Bag``/``rdf:Seq``/``rdf:Alt`` lists) under a ``prefix:LocalName`` key.
When the packet is truncated or not well-formed we fall back to a regex
salvage of the few properties that matter and say so in a note.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as _safe_fromstring

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

# Namespace URI -> conventional prefix, for readable keys.
NS_PREFIX = {
    "http://ns.adobe.com/xap/1.0/": "xmp",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/dc/terms/": "dcterms",
    "http://iptc.org/std/Iptc4xmpExt/2008-02-29/": "Iptc4xmpExt",
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": "Iptc4xmpCore",
    "http://ns.adobe.com/photoshop/1.0/": "photoshop",
    "http://ns.adobe.com/tiff/1.0/": "tiff",
    "http://ns.adobe.com/exif/1.0/": "exif",
    "http://ns.adobe.com/exif/1.0/aux/": "aux",
    "http://cipa.jp/exif/1.0/": "exifEX",
    "http://ns.adobe.com/xap/1.0/mm/": "xmpMM",
    "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#": "stEvt",
    "http://ns.useplus.org/ldf/xmp/1.0/": "plus",
    "http://ns.adobe.com/xap/1.0/rights/": "xmpRights",
    RDF: "rdf",
}

MAX_VALUES_PER_KEY = 64
MAX_VALUE_CHARS = 2000
MAX_ELEMENTS = 20000

_SALVAGE_KEYS = {
    "Iptc4xmpExt:DigitalSourceType": r"(?:Iptc4xmpExt:)?DigitalSourceType",
    "xmp:CreatorTool": r"(?:xmp|xap):CreatorTool",
    "photoshop:Credit": r"photoshop:Credit",
    "tiff:Software": r"tiff:Software",
    "tiff:Make": r"tiff:Make",
    "tiff:Model": r"tiff:Model",
    "dcterms:provenance": r"dcterms:provenance",
    "stEvt:softwareAgent": r"stEvt:softwareAgent",
}


def _key(tag: str) -> str:
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return f"{NS_PREFIX.get(uri, uri)}:{local}"
    return tag


def _add(props: dict[str, list[str]], key: str, value: str) -> None:
    value = value.strip()
    if not value:
        return
    vals = props.setdefault(key, [])
    if len(vals) < MAX_VALUES_PER_KEY and value[:MAX_VALUE_CHARS] not in vals:
        vals.append(value[:MAX_VALUE_CHARS])


def _walk(elem: ET.Element, props: dict[str, list[str]], counter: list[int]) -> None:
    for child in elem:
        counter[0] += 1
        if counter[0] > MAX_ELEMENTS:
            return
        key = _key(child.tag)
        # attribute-form properties on rdf:Description and on struct elements
        for ak, av in child.attrib.items():
            k = _key(ak)
            if k.startswith("rdf:") or k.startswith("{http://www.w3.org/XML/1998/namespace}"):
                if k == "rdf:resource" and not key.startswith("rdf:"):
                    _add(props, key, av)
                continue
            _add(props, k, av)
        if not key.startswith("rdf:") and child.text and len(child) == 0:
            _add(props, key, child.text)
        _walk(child, props, counter)
        # rdf:li values belong to the enclosing property (Bag/Seq/Alt)
        if not key.startswith("rdf:"):
            for container in child:
                if _key(container.tag) in ("rdf:Bag", "rdf:Seq", "rdf:Alt"):
                    for li in container:
                        if _key(li.tag) == "rdf:li" and li.text and len(li) == 0:
                            _add(props, key, li.text)


def _strip_to_xml(packet: bytes) -> bytes:
    i = packet.find(b"<x:xmpmeta")
    if i < 0:
        i = packet.find(b"<rdf:RDF")
    if i < 0:
        i = packet.find(b"<")
    return packet[max(i, 0):]


def _end_marker(body: bytes) -> bytes:
    for end in (b"</x:xmpmeta>", b"</rdf:RDF>"):
        j = body.rfind(end)
        if j >= 0:
            return body[:j + len(end)]
    return body


def parse_xmp(packet: bytes) -> tuple[dict[str, list[str]], list[str]]:
    """Parse one XMP packet.  Returns (properties, notes)."""
    notes: list[str] = []
    body = _strip_to_xml(packet)
    if not body.strip():
        return {}, ["empty XMP packet"]
    # The body starts at the XMP root, so a DTD in the packet's prolog is cut off before parsing;
    # report it all the same.  defusedxml refuses any DTD/entity that is still in the body.
    prolog = packet[: len(packet) - len(body)].upper()
    dtd_note = "XMP packet contains a DTD/entity declaration; not parsed as XML (salvaged)"
    if b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog:
        notes.append(dtd_note)
        return _salvage(body), notes
    props: dict[str, list[str]] = {}
    try:
        root = _safe_fromstring(_end_marker(body), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        notes.append(dtd_note)
        return _salvage(body), notes
    except ET.ParseError as e:
        notes.append(f"malformed or truncated XMP ({len(packet)} bytes): {e}; fields salvaged by pattern")
        return _salvage(body), notes
    counter = [0]
    # attributes on the root's descendants are handled by _walk; handle root itself too
    for ak, av in root.attrib.items():
        k = _key(ak)
        if not k.startswith("rdf:"):
            _add(props, k, av)
    _walk(root, props, counter)
    if counter[0] > MAX_ELEMENTS:
        notes.append(f"XMP has more than {MAX_ELEMENTS} elements; rest ignored")
    return props, notes


def _salvage(body: bytes) -> dict[str, list[str]]:
    text = body[:1024 * 1024].decode("utf-8", errors="replace")
    props: dict[str, list[str]] = {}
    for key, pat in _SALVAGE_KEYS.items():
        # attribute form  prefix:Name="value"
        for m in re.finditer(pat + r"\s*=\s*([\"'])(.*?)\1", text, flags=re.S):
            _add(props, key, m.group(2))
        # element form  <prefix:Name>value</...>  or with rdf:resource
        for m in re.finditer(r"<" + pat + r"\b[^>]*?rdf:resource\s*=\s*([\"'])(.*?)\1", text, flags=re.S):
            _add(props, key, m.group(2))
        for m in re.finditer(r"<" + pat + r"\s*>\s*([^<]+)", text, flags=re.S):
            _add(props, key, m.group(1))
        for m in re.finditer(r"<" + pat + r"\s*>\s*<rdf:(?:Alt|Seq|Bag)>\s*<rdf:li[^>]*>([^<]+)", text, flags=re.S):
            _add(props, key, m.group(1))
    return props
