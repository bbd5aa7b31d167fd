"""The provenance sources, in the order they run: ``ANALYZERS``.

Run order matters: a source reads what earlier ones found (``Context.result`` / ``shared``),
and the AI evidence lines and notes of a result follow it.  EXIF runs first (its raw strings
and Pillow's XMP feed the others), XMP before C2PA (a remote-manifest reference), and the XMP
DigitalSourceType declaration after C2PA so that a signed claim is listed first.

To add a source: write ``MY = MyAnalyzer()`` in a module of this package and append it here.
Its result fields, its ``inspect`` sections and its POLICY item then follow the built-in ones;
``RESULT_ORDER`` and ``DISPLAY_ORDER`` only pin where the built-in ones sit.
"""

from __future__ import annotations

from .base import Analyzer
from .c2pa_manifest import C2PA
from .colour_profile import COLOUR_PROFILE
from .exif import EXIF
from .generator_chunks import GENERATOR_CHUNKS
from .software import SOFTWARE_STRINGS
from .xmp import XMP, XMP_SOURCE_TYPE

ANALYZERS: list[Analyzer] = [EXIF, XMP, C2PA, XMP_SOURCE_TYPE, GENERATOR_CHUNKS, SOFTWARE_STRINGS, COLOUR_PROFILE]

# Position of the built-in sources' fields in a result, and of their sections in `inspect`
# (fixed: scan records and reports depend on them).  Sources not named follow, in run order.
RESULT_ORDER = ("c2pa", "xmp", "generator_chunks", "exif", "software_generator")
DISPLAY_ORDER = ("c2pa", "xmp", "generator_chunks", "software_strings", "exif")


def ordered(items, key, order: tuple[str, ...]) -> list:
    """items sorted by the position of key(item) in order; unnamed ones after, stable."""
    rank = {k: i for i, k in enumerate(order)}
    return sorted(items, key=lambda x: rank.get(key(x), len(order)))
