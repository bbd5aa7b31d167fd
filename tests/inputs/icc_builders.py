"""Matrix/TRC ICC v2 display profiles built from their primaries (Display P3, Adobe RGB) for tests and checks.

No ICC file ships with Pillow or Debian's base image here, and ``ImageCms.createProfile`` makes sRGB, LAB and XYZ
only. A display profile is small enough to write out: the header, the white point, the three colourants (the
primaries' XYZ at D65, Bradford-adapted to the D50 connection space) and a tone curve per channel. Used by
``tools/check_edits.py`` (photos converted to a wide-gamut profile) and ``tests/inputs/test_decoding.py``.
"""

from __future__ import annotations

import struct

import numpy as np

_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])
_D50 = np.array([0.9642, 1.0, 0.8249])

DISPLAY_P3 = {"name": "Display P3", "primaries": ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)), "trc": "srgb"}
ADOBE_RGB = {"name": "Adobe RGB (1998)", "primaries": ((0.640, 0.330), (0.210, 0.710), (0.150, 0.060)),
             "trc": 563 / 256}


def _xyz(x: float, y: float) -> np.ndarray:
    return np.array([x / y, 1.0, (1 - x - y) / y])


def _s15f16(v: float) -> bytes:
    return struct.pack(">i", int(round(v * 65536)))


def _xyz_tag(v) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15f16(c) for c in v)


def _desc_tag(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_)) + ascii_ + b"\0" * 8 + b"\0" * 3 + b"\0" * 67


def _curve_tag(trc) -> bytes:
    if trc == "srgb":
        x = np.linspace(0.0, 1.0, 1024)
        y = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
        return b"curv\0\0\0\0" + struct.pack(">I", len(y)) + b"".join(struct.pack(">H", round(v * 65535)) for v in y)
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(float(trc) * 256))


def display_profile(name: str, primaries, trc="srgb", white=(0.3127, 0.3290)) -> bytes:
    """The ICC profile (bytes) of an RGB display with these primaries, white point and tone curve."""
    w = _xyz(*white)
    p = np.stack([_xyz(*xy) for xy in primaries], axis=1)
    m = p * np.linalg.solve(p, w)  # columns: the XYZ of R, G and B at full intensity
    adapt = np.linalg.inv(_BRADFORD) @ np.diag((_BRADFORD @ _D50) / (_BRADFORD @ w)) @ _BRADFORD
    m50, curve = adapt @ m, _curve_tag(trc)
    tags = [(b"desc", _desc_tag(name)), (b"cprt", b"text\0\0\0\0test profile\0"), (b"wtpt", _xyz_tag(_D50)),
            (b"rXYZ", _xyz_tag(m50[:, 0])), (b"gXYZ", _xyz_tag(m50[:, 1])), (b"bXYZ", _xyz_tag(m50[:, 2])),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    start = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for sig, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += sig + struct.pack(">II", start + len(body), len(data))
        body += data
    header = (struct.pack(">I", start + len(body)) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ " + b"\0" * 12
              + b"acspAPPL" + b"\0" * 24 + b"".join(_s15f16(c) for c in _D50) + b"\0" * 48)
    assert len(header) == 128
    return header + table + body
