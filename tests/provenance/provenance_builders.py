"""Builders for test images with hand-made metadata (used by tests/provenance only)."""

from __future__ import annotations

import datetime
import io
import struct
import zlib

from PIL import Image

XMP_SIG = b"http://ns.adobe.com/xap/1.0/\x00"
IPTC_DST = "http://cv.iptc.org/newscodes/digitalsourcetype/"


# ----------------------------------------------------------------------------- images

def base_image(size=(64, 64), seed: int = 0) -> Image.Image:
    im = Image.new("RGB", size)
    px = im.load()
    for y in range(size[1]):
        for x in range(size[0]):
            px[x, y] = ((x * 7 + seed) % 256, (y * 5 + seed) % 256, ((x + y) * 3) % 256)
    return im


def camera_exif(make="Canon", model="EOS R5", software=None, gps=True, lens="RF24-105mm F4 L IS USM",
                user_comment: bytes | None = None, description: str | None = None) -> bytes:
    ex = Image.Exif()
    ex[0x010F] = make
    ex[0x0110] = model
    if software:
        ex[0x0131] = software
    if description:
        ex[0x010E] = description
    sub = ex.get_ifd(0x8769)
    sub[0x9003] = "2024:05:06 07:08:09"
    if lens:
        sub[0xA434] = lens
    if user_comment is not None:
        sub[0x9286] = user_comment
    if gps:
        g = ex.get_ifd(0x8825)
        g[1] = "N"
        g[2] = (48.0, 51.0, 30.0)
        g[3] = "E"
        g[4] = (2.0, 21.0, 0.0)
    return ex.tobytes()


def jpeg_bytes(*, exif: bytes | None = None, segments: list[tuple[int, bytes]] = (), seed: int = 0) -> bytes:
    """A JPEG; extra (marker, payload) segments are inserted right after SOI."""
    buf = io.BytesIO()
    kw = {"exif": exif} if exif else {}
    base_image(seed=seed).save(buf, "JPEG", quality=90, **kw)
    data = buf.getvalue()
    extra = b"".join(segment(m, p) for m, p in segments)
    return data[:2] + extra + data[2:]


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def png_chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)


def png_bytes(chunks: list[tuple[bytes, bytes]] = (), seed: int = 0) -> bytes:
    """A PNG with extra chunks inserted before IEND."""
    buf = io.BytesIO()
    base_image(seed=seed).save(buf, "PNG")
    data = buf.getvalue()
    iend = data.rindex(b"IEND") - 4
    return data[:iend] + b"".join(png_chunk(t, d) for t, d in chunks) + data[iend:]


def text_chunk(key: str, text: str) -> tuple[bytes, bytes]:
    return b"tEXt", key.encode("latin-1") + b"\x00" + text.encode("latin-1")


def itxt_chunk(key: str, text: str, compressed=False) -> tuple[bytes, bytes]:
    body = text.encode("utf-8")
    if compressed:
        body = zlib.compress(body)
    return b"iTXt", key.encode("latin-1") + b"\x00" + bytes([1 if compressed else 0, 0]) + b"\x00\x00" + body


def ztxt_chunk(key: str, raw: bytes) -> tuple[bytes, bytes]:
    return b"zTXt", key.encode("latin-1") + b"\x00\x00" + zlib.compress(raw, 9)


def webp_bytes(*, exif: bytes | None = None, xmp: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    kw = {}
    if exif:
        kw["exif"] = exif
    if xmp:
        kw["xmp"] = xmp
    base_image().save(buf, "WEBP", **kw)
    return buf.getvalue()


def heic_bytes(*, exif: bytes) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    base_image().save(buf, "HEIF", exif=exif)
    return buf.getvalue()


# ----------------------------------------------------------------------------- XMP

def xmp_packet(*, dst: str | None = None, creator_tool: str | None = None, element_form=False,
               extra: str = "") -> bytes:
    attrs = ""
    elems = ""
    if dst:
        if element_form:
            elems += f"<Iptc4xmpExt:DigitalSourceType>{IPTC_DST}{dst}</Iptc4xmpExt:DigitalSourceType>"
        else:
            attrs += f' Iptc4xmpExt:DigitalSourceType="{IPTC_DST}{dst}"'
    if creator_tool:
        attrs += f' xmp:CreatorTool="{creator_tool}"'
    x = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about=""'
        ' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
        ' xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        f'{attrs}>{elems}{extra}</rdf:Description></rdf:RDF></x:xmpmeta>'
        '<?xpacket end="w"?>'
    )
    return x.encode("utf-8")


# ----------------------------------------------------------------------------- malformed EXIF

def looping_exif() -> bytes:
    """Little-endian TIFF/EXIF whose IFD0 points to itself (next-IFD and ExifIFD), with bad offsets."""
    entries = [
        (0x010F, 2, 6, None),            # Make 'Canon\0' -> data area
        (0x0110, 2, 200, 0x7FFFFF00),    # Model: count 200 at an offset far past the end
        (0x8769, 4, 1, 8),               # ExifIFD -> IFD0 itself (loop)
        (0x8825, 4, 1, 0xFFFFFF00),      # GPS IFD -> out of range
    ]
    n = len(entries)
    ifd_size = 2 + 12 * n + 4
    data_off = 8 + ifd_size
    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    out += struct.pack("<H", n)
    for tag, typ, count, val in entries:
        if val is None:
            out += struct.pack("<HHII", tag, typ, count, data_off)
        else:
            out += struct.pack("<HHII", tag, typ, count, val)
    out += struct.pack("<I", 8)          # next IFD = IFD0 again (loop)
    out += b"Canon\x00"
    return bytes(out)


# ----------------------------------------------------------------------------- C2PA signing

def make_chain(alg: str = "es256"):
    """CA + end-entity signing certificate accepted by c2pa-rs.  Returns (chain_pem, key_pem, ca_pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "synthdetect test root CA"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "synthdetect tests")])
    ku_ca = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(ku_ca, critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    if alg == "ps256":
        ee_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        ee_key = ec.generate_private_key(ec.SECP256R1())
    ee_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "synthdetect test signer"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "synthdetect tests")])
    ku_ee = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    ee = (x509.CertificateBuilder().subject_name(ee_name).issuer_name(ca_name)
          .public_key(ee_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
          .add_extension(ku_ee, critical=True)
          .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ee_key.public_key()), critical=False)
          .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    chain = ee.public_bytes(pem) + ca.public_bytes(pem)
    key = ee_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return chain, key, ca.public_bytes(pem)


def c2pa_sign(image: bytes, mime: str, chain: bytes, key: bytes, *, alg: str = "es256",
              dst: str = "trainedAlgorithmicMedia", generator: str = "Adobe Firefly") -> bytes:
    import json

    import c2pa

    algs = {"es256": c2pa.C2paSigningAlg.ES256, "ps256": c2pa.C2paSigningAlg.PS256}
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(algs[alg], chain, key, None))
    manifest = {
        "claim_generator_info": [{"name": generator, "version": "3.0"}],
        "title": "generated",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": IPTC_DST + dst,
             "softwareAgent": {"name": generator}},
            {"action": "c2pa.resized"},
        ]}}],
    }
    dst_buf = io.BytesIO()
    with c2pa.Builder(json.dumps(manifest)) as b:
        b.sign(signer, mime, io.BytesIO(image), dst_buf)
    return dst_buf.getvalue()
