"""Conditions: the transformations an analyst's images commonly went through, measured.

A probe's error rates are measured on its calibration images as they are.  Evidence rarely
is: it was downscaled for a website, re-saved by a messenger.  ``train probe --conditions``
therefore also calibrates on *copies* of the calibration images made in memory with Pillow
(never written anywhere), one set of copies per declared condition:

* ``qQ``: re-encoded as a baseline JPEG at quality ``Q`` (the size kept);
* ``SqQ``: downscaled (Lanczos) so that the shorter side is ``S`` px, then JPEG at ``Q``
  (an image already at or below ``S`` keeps its size);
* ``webpQ`` / ``SwebpQ``: the same, saved as lossy WebP at libwebp quality ``Q`` (Pillow's encoder,
  default settings) instead of JPEG;
* ``avifQ`` / ``SavifQ``: the same, saved as AVIF at libavif quality ``Q`` (Pillow's encoder: libavif
  with libaom, default speed and 4:2:0);
* ``heifQ`` / ``SheifQ`` (``heicQ`` accepted): the same, saved as HEIC at libheif quality ``Q``
  (pillow-heif's encoder: libheif with x265, 4:2:0);
* ``greyQ`` / ``SgreyQ``: the same, turned greyscale (Pillow's ``L``: ITU-R 601 luma) and saved as a
  greyscale JPEG at ``Q``.

Every copy is scored out of fold (by the fold model that did not see its original), so the
card holds, per condition, out-of-fold scores like the clean calibration set
(:class:`synthdetect.scan.calibration.CalibrationSet`) and the rates at the thresholds.

``scan`` maps each image to a condition from what it can measure (:func:`assign`): its
shorter side ``s`` and estimated JPEG quality ``q`` (a non-JPEG file counts as quality 100).
A lossy WebP the card's own calibration images do not cover is judged among the WebP conditions
only, by its quality read from the file (``inputs.codecs.webp_quality``), by the same rule 2; with
none at least as harsh it is outside (the ``unmeasured_codec`` gate); an AVIF likewise among the
AVIF conditions (``inputs.codecs.avif_quality``), a HEIC among the HEIF conditions
(``inputs.codecs.heif_quality``).
A greyscale image (``inputs.quality.is_greyscale``) under a card with greyscale conditions is
judged among those only (its colour calibration images never cover it: on the bundle's holdout
made greyscale, colour thresholds let 23 of 43 fakes through as real against a stated 20 %,
docs/quality.md): one at least as large as the calibration images by the full-size greyscale copies
as harsh as it (their worst case; rule 1's counterpart: the full-size copies are its "original"),
any other (or one harsher than every full-size copy) by rule 2 among all of them; with none as
harsh as it, it is outside (the gate a colour image would get: ``below_calibrated_size``,
``recompressed`` or ``uncalibrated_condition``).  Under a card
without them it is assigned like a colour image, and scan's ``greyscale`` quality gate withholds it
unless the card's calibration images are greyscale too (``inputs.quality.greyscale_calibrated``).
Other JPEG and lossless files are judged among the JPEG conditions:

1. ``original`` when ``s`` is at least the calibration images' smallest shorter side and
   ``q`` at least their lowest JPEG quality: the clean calibration applies (as before);
2. otherwise the measured conditions *at least as harsh as the image*: those whose size
   ``S <= s`` (a quality-only condition counts as the calibration images' smallest side) and
   whose quality ``Q <= q``.  The record names the mildest of them (the largest ``S``, then
   the largest ``Q``) as its ``condition``; when there are several, the thresholds are those
   that keep the budgets on *each* of them (the highest ``synthetic`` and the lowest ``real``
   threshold, :func:`synthdetect.scan.calibration.worst_case`) and the stated rates the worst
   of them at those thresholds (``condition_bound`` lists them).  The mildest one alone is
   not a bound: the shorter side cannot tell whether an image was downscaled, and conditions
   move scores in different directions — measured on the bundle's holdout (docs/quality.md),
   900 px JPEG q85 downscales judged with the full-size ``q85`` rates alone had 17 of 43 fakes
   called real (stated 19 %); over ``q85``, ``q75`` and ``720q80`` together, 9 of 43;
3. none: the image is outside every measured condition (smaller than the smallest measured
   size, or a lower JPEG quality than measured): no calibrated verdict, as before.

numpy + Pillow only; the feature extraction of copies needs the backbone (onnxruntime).
"""

from __future__ import annotations

import hashlib
import io
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image

TRANSFORM_VERSION = "lanczos-jpeg420-v1"  # part of the cache key: change it when the copies change
ORIGINAL = "original"
OUTSIDE = "outside"  # the record's condition when no measured condition covers the image
DEFAULT_SPEC = "q95,q85,q75,1080q90,720q90,720q80"
_NAME = re.compile(r"^(?:(\d{2,5}))?(q|webp|avif|heif|heic|grey)(\d{1,3})$")
JPEG, WEBP, AVIF, HEIF, GREY = "jpeg", "webp", "avif", "heif", "grey"
_PREFIX = {JPEG: "q", WEBP: "webp", AVIF: "avif", HEIF: "heif", GREY: "grey"}  # a condition name's letters per form
_ALIASES = {"heic": HEIF}


class ConditionError(ValueError):
    """A condition list that cannot be parsed (one-line reason)."""


@dataclass(frozen=True)
class Condition:
    """One declared transformation: optional downscale to ``side`` (shorter side), then JPEG (or
    lossy WebP, AVIF, HEIC, or greyscale then JPEG: ``codec``) at ``quality``."""

    side: int | None
    quality: int
    codec: str = JPEG

    @property
    def name(self) -> str:
        return f"{self.side or ''}{_PREFIX[self.codec]}{self.quality}"

    def cache_key(self, image_sha256: str) -> str:
        """Feature-cache key of this condition's copy of an image (hex, like an image sha)."""
        return hashlib.sha256(f"{image_sha256}|{self.name}|{TRANSFORM_VERSION}".encode()).hexdigest()

    def apply(self, img: Image.Image) -> bytes:
        """The copy's bytes (in memory): ``img`` is an RGB image as ``decode`` returns it."""
        w, h = img.size
        if self.side is not None and min(w, h) > self.side:
            f = self.side / min(w, h)
            size = (self.side, max(1, round(h * f))) if w <= h else (max(1, round(w * f)), self.side)
            img = img.resize(size, Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        if self.codec == WEBP:
            img.save(buf, format="WEBP", quality=int(self.quality))
        elif self.codec == AVIF:
            img.save(buf, format="AVIF", quality=int(self.quality))
        elif self.codec == HEIF:
            _save_heif(img, buf, int(self.quality))
        elif self.codec == GREY:
            img.convert("L").save(buf, format="JPEG", quality=int(self.quality))
        else:
            img.save(buf, format="JPEG", quality=int(self.quality), subsampling="4:2:0")
        return buf.getvalue()


def _save_heif(img: Image.Image, buf: io.BytesIO, quality: int) -> None:
    """``img`` saved as HEIC at libheif ``quality`` (pillow-heif; ``ConditionError`` without it)."""
    from ..inputs.decoding import init_codecs

    init_codecs()
    if "HEIF" not in Image.SAVE:
        raise ConditionError("heif conditions need pillow-heif (pip install pillow-heif), which is not installed")
    img.save(buf, format="HEIF", quality=quality)


def parse_conditions(spec: str | None) -> list[Condition]:
    """``default`` | ``none`` | a comma-separated list such as ``q85,720q90,1080q95,webp75``
    (``default`` may open the list: ``default,webp75``)."""
    spec = (spec or "none").strip().lower()
    if spec == "none":
        return []
    if spec == "default" or spec.startswith("default,"):
        spec = DEFAULT_SPEC + spec[len("default"):]
    out: list[Condition] = []
    for part in (p.strip() for p in spec.split(",")):
        m = _NAME.match(part)
        if not m:
            raise ConditionError(f"--conditions: {part!r} is not a condition (use qQ or SqQ, e.g. q85 or 720q90; "
                                 "webpQ or SwebpQ for lossy WebP, avifQ or SavifQ for AVIF, heifQ or SheifQ for HEIC, "
                                 "greyQ or SgreyQ for greyscale JPEG; "
                                 "or 'default' / 'none')")
        side, q = (int(m.group(1)) if m.group(1) else None), int(m.group(3))
        if not 1 <= q <= 100 or (side is not None and side < 32):
            raise ConditionError(f"--conditions: {part!r}: quality must be 1-100 and a size at least 32 px")
        c = Condition(side, q, _ALIASES.get(m.group(2)) or {v: k for k, v in _PREFIX.items()}[m.group(2)])
        if c not in out:
            out.append(c)
    return out


def usable(conditions: Sequence[Condition], min_side: int, min_quality: int = 100
           ) -> tuple[list[Condition], list[str]]:
    """The conditions worth measuring for calibration images whose shorter sides start at
    ``min_side`` and whose JPEG qualities start at ``min_quality``: a downscale to
    ``S >= min_side`` lands inside the originals' size range and a re-encode of the full-size
    image at ``Q >= min_quality`` inside their quality range, which the clean calibration
    already covers (rule 1 of the module doc), so they are skipped (named in the card)."""
    keep, skipped = [], []
    for c in conditions:
        # inside the clean calibration only when both the size and the quality are (rule 1); a WebP, AVIF,
        # HEIC or greyscale copy never is
        inside = (c.codec == JPEG and bool(min_side) and (c.side is None or c.side >= min_side)
                  and c.quality >= min_quality)
        (skipped if inside else keep).append(c)
    return keep, [c.name for c in skipped]


# -- the rule scan applies ------------------------------------------------------------------------
@dataclass
class Assignment:
    name: str | None  # ORIGINAL, a measured condition's name, or None (outside every measured condition)
    gate: str | None = None  # when outside: below_calibrated_size | recompressed | uncalibrated_condition | unmeasured_codec
    reason: str | None = None
    value: Any = None  # when outside: the image's measure and the limit it missed (the gate's value/threshold)
    threshold: Any = None
    bound: tuple[str, ...] = ()  # when several measured conditions are as harsh as the image: all, mildest first
    form: str | None = None  # GREY: judged among the greyscale conditions (named or outside them)

    @property
    def label(self) -> str:
        """What a scan record states as its ``condition``."""
        return self.name or OUTSIDE


def assign(side: int, quality: int | None, table: dict[str, Any], lossy: tuple[str, int | None] | None = None,
           grey: bool = False) -> Assignment:
    """The condition of an image of shorter side ``side`` and JPEG quality ``quality`` (None: not
    a JPEG) under a card's ``calibration["conditions"]`` table (see the module doc).  ``lossy``:
    ``(codec, quality)`` of a lossy non-JPEG file the card's calibration images do not cover
    (``inputs.codecs``): judged among that codec's measured conditions only.  ``grey``: the
    picture has no colour: judged among the greyscale conditions when the table has any."""
    orig = table.get("original") or {}
    o_side, o_q = int(orig.get("min_side") or 0), int(orig.get("min_jpeg_quality") or 0)
    if lossy is not None:
        return _assign_lossy(side, lossy, o_side, table)
    q = 100 if quality is None else int(quality)
    if grey and (measured := measured_in(table, GREY)):
        got = (_bounded(side, q, o_side, _full_size(measured)) if side >= o_side else None) \
            or _bounded(side, q, o_side, measured) or _outside_grey(side, quality, q, o_side, measured)
        got.form = GREY
        return got
    if side >= o_side and q >= o_q:
        return Assignment(ORIGINAL)
    return _bounded(side, q, o_side, measured_in(table, JPEG)) or _outside(side, quality, q, o_side, table)


def measured_in(table: dict[str, Any], codec: str) -> dict[str, Any]:
    """The table's measured conditions in ``codec`` (entries without a codec are JPEG)."""
    return {n: c for n, c in (table.get("measured") or {}).items() if (c.get("codec") or JPEG) == codec}



def _full_size(measured: dict[str, Any]) -> dict[str, Any]:
    """The conditions that re-encode without a downscale (the calibration images' own sizes)."""
    return {n: c for n, c in measured.items() if not c.get("side")}


def _bounded(side: int, q: int, o_side: int, measured: dict[str, Any]) -> Assignment | None:
    """Rule 2: the measured conditions at least as harsh as the image, mildest first; None when none is."""
    cands = []
    for name, c in measured.items():
        s_eff = int(c["side"]) if c.get("side") else o_side
        if s_eff <= side and int(c["quality"]) <= q:
            cands.append((s_eff, int(c["quality"]), name))
    if not cands:
        return None
    names = tuple(c[2] for c in sorted(cands, reverse=True))
    return Assignment(names[0], bound=names if len(names) > 1 else ())


def _assign_lossy(side: int, lossy: tuple[str, int | None], o_side: int, table: dict[str, Any]) -> Assignment:
    from ..inputs.codecs import describe

    codec, quality = lossy
    measured = measured_in(table, codec)
    got = _bounded(side, int(quality), o_side, measured) if quality is not None and measured else None
    if got is not None:
        return got
    if not measured:  # nothing measured in this codec: the quality gate's own entry says so
        return Assignment(None, "unmeasured_codec", value=describe(codec, quality))
    names = ", ".join(sorted(measured))
    return Assignment(None, "unmeasured_codec", value=describe(codec, quality), threshold=names, reason=(
        f"The image was saved as {describe(codec, quality if quality is not None else None)}"
        + ("" if quality is not None else " of unreadable quality") + f" ({side} px shorter side): no measured "
        f"condition is as harsh as it (measured: {names}), so no calibrated verdict is given."))


def _outside_gate(side: int, q: int, sides: list[int], quals: list[int]) -> str:
    """Rule 3's gate for an image no measured condition bounds (``sides``/``quals``: the sizes and
    qualities measured): smaller than all of them, harsher than all of them, or a combination not measured."""
    if side < min(sides):
        return "below_calibrated_size"
    return "recompressed" if q < min(quals) else "uncalibrated_condition"


def _outside_grey(side: int, quality: int | None, q: int, o_side: int, measured: dict[str, Any]) -> Assignment:
    """A greyscale image no greyscale condition bounds: the gate a colour image would get (smaller
    than measured, harsher than measured, or a combination not measured), naming the greyscale copies."""
    names = ", ".join(sorted(measured))
    sides = [int(c["side"]) if c.get("side") else o_side for c in measured.values()]
    quals = [int(c["quality"]) for c in measured.values()]
    tail = (f"the detectors' error rates on greyscale images were measured on the calibration images' {names} "
            "copies only, none as harsh as it, so no calibrated verdict is given.")
    gate = _outside_gate(side, q, sides, quals)
    if gate == "below_calibrated_size":
        return Assignment(None, gate, value=side, threshold=min(sides),
                          reason=f"The image is greyscale with a {side} px shorter side (measured down to {min(sides)} px): "
                          + tail)
    if gate == "recompressed":
        return Assignment(None, gate, value=quality, threshold=min(quals),
                          reason=f"The image is greyscale, saved at an estimated JPEG quality of {quality} (measured down "
                          f"to {min(quals)}): " + tail)
    at = f"JPEG quality {quality}" if quality is not None else "stored without loss"
    return Assignment(None, gate, value=f"greyscale {side}px/" + (f"q{quality}" if quality else "lossless"),
                      threshold=names, reason=f"The image is greyscale ({side} px shorter side, {at}): " + tail)


def _outside(side: int, quality: int | None, q: int, o_side: int, table: dict[str, Any]) -> Assignment:
    measured = measured_in(table, JPEG)
    sides = [int(c["side"]) if c.get("side") else o_side for c in measured.values()] + [o_side]
    quals = [int(c["quality"]) for c in measured.values()] + [int((table.get("original") or {}).get("min_jpeg_quality") or 0)]
    gate = _outside_gate(side, q, sides, quals)
    if gate == "below_calibrated_size":
        return Assignment(None, gate, value=side, threshold=min(sides), reason=
                          f"The image's shorter side is {side} px: the detectors' error rates were measured down to "
                          f"{min(sides)} px (calibration images and their downscaled copies); on smaller images they "
                          "are not known, so no calibrated verdict is given.")
    if gate == "recompressed":
        return Assignment(None, gate, value=quality, threshold=min(quals), reason=
                          f"The image was saved at an estimated JPEG quality of {quality}: the detectors' error rates "
                          f"were measured down to quality {min(quals)}; below it they are not known, so no calibrated "
                          "verdict is given.")
    return Assignment(None, gate, value=f"{side}px/q{quality}",
                      threshold=",".join(sorted(measured)), reason=
                      f"No measured condition covers a {side} px image at JPEG quality {quality} (measured: "
                      f"{', '.join(sorted(measured)) or 'none'}), so no calibrated verdict is given.")


def condition_key(rec: dict[str, Any]) -> str | tuple[str, ...] | None:
    """What a record's verdict is calibrated on: its ``condition_bound`` (several conditions) or its ``condition``."""
    bound = rec.get("condition_bound")
    return tuple(bound) if bound else rec.get("condition")


def condition_label(key: str | tuple[str, ...] | None) -> str | None:
    """A condition key as text: ``q85`` or ``q85, q75, 720q80``."""
    return ", ".join(key) if isinstance(key, tuple) else key


def bound_calibration(table: dict[str, Any] | None, names: tuple[str, ...]) -> dict[str, Any] | None:
    """The calibration set (``CalibrationSet.from_dict`` input) of an image bounded by several measured
    conditions: their scores pooled, each kept as a source, so that the operating point is the worst
    case over them (:func:`synthdetect.scan.calibration.worst_case`).  None when one is not measured."""
    cals = [condition_calibration(table, n) for n in names]
    if not cals or any(c is None for c in cals):
        return None
    if len(cals) == 1:
        return cals[0]
    return {"method": cals[0].get("method", ""), "data": cals[0].get("data", ""),
            "real_scores": [v for c in cals for v in c["real_scores"]],
            "fake_scores": [v for c in cals for v in c["fake_scores"]],
            "by_source": {n: {"real_scores": c["real_scores"], "fake_scores": c["fake_scores"]}
                          for n, c in zip(names, cals)}}


def breaks_budgets(op, max_false_alarm: float, max_miss: float, condition: str | tuple[str, ...] | None
                   ) -> str | None:
    """The gate reason when a measured condition's rates at the thresholds used break the
    budgets (None when they hold): then no calibrated verdict is given in that condition."""
    if op is None or condition in (None, ORIGINAL, OUTSIDE):
        return None
    if isinstance(condition, tuple):
        condition = f"the worst of {condition_label(condition)}"
    fa, ms = op.false_alarm, op.miss
    bad = []
    if fa.n and fa.value > max_false_alarm + 1e-12:
        bad.append(f"{fa.k}/{fa.n} real images called synthetic ({100 * fa.value:.1f} % > {100 * max_false_alarm:g} %)")
    if ms.n and ms.value > max_miss + 1e-12:
        bad.append(f"{ms.k}/{ms.n} synthetic images called real ({100 * ms.value:.1f} % > {100 * max_miss:g} %)")
    if not bad:
        return None
    return (f"In its measured condition ({condition}) the detectors' calibration gives " + " and ".join(bad)
            + " at these thresholds: outside the error budgets, so no calibrated verdict is given.")


def condition_rate(rate: dict[str, Any] | None, condition: str | tuple[str, ...] | None) -> dict[str, Any] | None:
    """A verdict's stated rate, naming the measured condition(s) it comes from (unchanged otherwise)."""
    if not rate or condition in (None, ORIGINAL, OUTSIDE):
        return rate
    if isinstance(condition, tuple):
        return {**rate, "condition": condition[0], "conditions": list(condition),
                "text": f"{rate['text']}, the worst of those measured on the calibration images' "
                        f"{condition_label(condition)} copies (each could have produced this image)"}
    return {**rate, "condition": condition,
            "text": f"{rate['text']}, measured on the calibration images' {condition} copies"}


def table_entry(c: Condition) -> dict[str, Any]:
    return {"side": c.side, "quality": c.quality, **({"codec": c.codec} if c.codec != JPEG else {})}


# -- features of the copies ----------------------------------------------------------------------
def copy_features(paths: Sequence[Any], shas: Sequence[str], backbone, conditions: Sequence[Condition], *,
                  cache=None, workers: int = 2, progress: Callable[[int], None] | None = None
                  ) -> dict[str, np.ndarray]:
    """Backbone features of every condition's copy of every image: ``{condition name: [N, dim]}``
    (rows in the order of ``paths``; NaN rows for an image that could not be read).

    Each original is decoded once, as ``scan`` decodes it; each copy is made in memory
    (:meth:`Condition.apply`), decoded again the same way and run through the backbone; the
    vector is cached under :meth:`Condition.cache_key` (image sha + condition) in the
    backbone's cache, so a second fit costs no extraction."""
    from ..inputs.preprocess import mean_per_image, stack_tiles

    n, dim = len(paths), backbone.card.dim
    out = {c.name: np.full((n, dim), np.nan, np.float32) for c in conditions}
    todo = []
    for i in range(n):
        miss = []
        for c in conditions:
            v = cache.get(c.cache_key(shas[i])) if cache is not None and shas[i] else None
            if v is None:
                miss.append(c)
            else:
                out[c.name][i] = v
        if miss:
            todo.append((i, miss))
    done = n - len(todo)
    if progress and done:
        progress(done)

    def prepare(job):
        i, miss = job
        return i, [(c, a) for c, a in zip(miss, _copy_inputs(paths[i], miss, backbone.card.input))]

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, arrays in pool.map(prepare, todo):
            ok = [(c, a) for c, a in arrays if a is not None]
            if ok:
                x, counts = stack_tiles([a for _, a in ok])
                per = mean_per_image(backbone.features(x), counts).astype(np.float32)
                for (c, _), v in zip(ok, per):
                    out[c.name][i] = v
                    if cache is not None and shas[i]:
                        cache.put(c.cache_key(shas[i]), v)
            if progress:
                progress(1)
    return out


def _copy_inputs(path, conditions: Sequence[Condition], spec) -> list[np.ndarray | None]:
    """The backbone inputs of each condition's copy of one image (None for all when unreadable)."""
    from ..inputs.decoding import DecodeError, decode, decode_bytes
    from ..inputs.preprocess import to_inputs

    try:
        d = decode(path)
    except DecodeError:
        return [None] * len(conditions)
    res = []
    try:
        for c in conditions:
            img, _, _, _ = decode_bytes(c.apply(d.image))
            try:
                res.append(to_inputs(img, spec))
            finally:
                img.close()
    finally:
        d.image.close()
    return res


# -- calibration per condition -------------------------------------------------------------------
def oof_copy_scores(fit, features: np.ndarray) -> np.ndarray:
    """Out-of-fold probabilities of one condition's copies (``features`` [N, dim], rows aligned
    with the images ``fit`` was fitted on): every copy is scored by the outer-fold model whose
    test fold holds its original, i.e. the model that never saw the original (nor the copy).
    NaN rows (copies that could not be made) stay NaN."""
    from .heads import sigmoid

    X = np.asarray(features, dtype=np.float64)
    out = np.full(X.shape[0], np.nan)
    if not fit.fold_heads or len(fit.fold_heads) != len(fit.fold_tests):
        raise ValueError("the fit carries no outer-fold models: copies cannot be scored out of fold")
    for head, test in zip(fit.fold_heads, fit.fold_tests):
        rows = np.asarray(test)[np.all(np.isfinite(X[test]), axis=1)]
        if rows.size:
            out[rows] = sigmoid(head.logits(X[rows]))
    return out


def condition_table(conditions: Sequence[Condition], skipped: Sequence[str], y: np.ndarray,
                    scores: dict[str, np.ndarray], ids: Sequence[str], *, min_side: int, min_quality: int,
                    data: str, max_false_alarm: float, max_miss: float) -> dict[str, Any]:
    """``calibration["conditions"]`` of a card: the rule's inputs and, per measured condition,
    its out-of-fold calibration set (scores + image ids) and its rates at its thresholds."""
    from .calibration import CalibrationSet
    from ..evaluation.metrics import roc_auc

    measured = {}
    for c in conditions:
        s = scores[c.name]
        ok = np.isfinite(s)
        if int(np.sum(y[ok] == 0)) < 2 or int(np.sum(y[ok] == 1)) < 2:
            continue
        cal = CalibrationSet.from_labels(y[ok], s[ok], method=f"cross-fitted: out-of-fold scores of copies "
                                         f"({c.name}) by the fold model that did not see their original",
                                         data=data, ids=[ids[i] for i in np.flatnonzero(ok)])
        measured[c.name] = {**table_entry(c), **cal.to_dict(), "roc_auc": round(float(roc_auc(y[ok], s[ok])), 6),
                            "at_default_budgets": cal.operating(max_false_alarm, max_miss).to_dict()}
    return {
        "transform": f"Pillow, in memory: Lanczos downscale of the shorter side, then baseline JPEG 4:2:0 "
                     f"({TRANSFORM_VERSION}; webp conditions: lossy WebP, libwebp's default settings; avif "
                     "conditions: AVIF, libavif's default settings; heif conditions: HEIC, libheif's x265 at 4:2:0; "
                     "grey conditions: greyscale (L) JPEG)",
        "rule": "original when the shorter side and JPEG quality are at least the calibration images'; else every "
                "measured condition with size <= the image's and quality <= the image's bounds it (the mildest named; "
                "the worst case of their thresholds and rates used); else outside (no calibrated verdict); a lossy "
                "WebP (an AVIF, a HEIC) the calibration images do not cover: the same among the webp (avif, heif) conditions, by its "
                "quality read from the file; "
                "a greyscale image: the same among the grey conditions (one at least the calibration images' size among the "
                "full-size grey copies first)",
        "original": {"min_side": int(min_side), "min_jpeg_quality": int(min_quality)},
        "skipped": list(skipped),
        "measured": measured,
    }


def condition_calibration(table: dict[str, Any] | None, name: str | None) -> dict[str, Any] | None:
    """The calibration set (``CalibrationSet.from_dict`` input) of one measured condition."""
    if not table or not name or name == ORIGINAL:
        return None
    return (table.get("measured") or {}).get(name)


@dataclass
class ConditionCalibration:
    table: dict[str, Any]  # calibration["conditions"] of the card
    features: dict[str, np.ndarray]  # condition name -> [N, dim] features of the copies (NaN rows: not made)
    scores: dict[str, np.ndarray] = field(default_factory=dict)  # condition name -> [N] out-of-fold scores
    seconds: float = 0.0


def calibrate_conditions(paths: Sequence[Any], shas: Sequence[str], sides: Sequence[int], y: np.ndarray, fit,
                         backbone, conditions: Sequence[Condition], *, cache=None, data: str = "",
                         max_false_alarm: float, max_miss: float,
                         qualities: Sequence[int | None],
                         progress: Callable[[int], None] | None = None) -> ConditionCalibration:
    """Copies of the calibration images (``paths``: the images ``fit`` was fitted on, in its row
    order) per condition, their features, out-of-fold scores and the card's condition table.
    ``qualities``: each image's JPEG quality as scan reads it (``probes.features.sample_jpeg_quality``:
    a PNG saved from a JPEG has that JPEG's; None: none)."""
    import time

    t0 = time.perf_counter()
    known = [int(s) for s in sides if s]
    min_side = min(known) if known else 0
    min_q = min((100 if q is None else int(q)) for q in qualities) if len(qualities) else 100
    keep, skipped = usable(conditions, min_side, min_q)
    feats = copy_features(paths, shas, backbone, keep, cache=cache, progress=progress)
    scores = {name: oof_copy_scores(fit, X) for name, X in feats.items()}
    table = condition_table(keep, skipped, np.asarray(y), scores, [s[:16] for s in shas], min_side=min_side,
                            min_quality=min_q, data=data, max_false_alarm=max_false_alarm, max_miss=max_miss)
    return ConditionCalibration(table, feats, scores, time.perf_counter() - t0)


def ensemble_conditions(cards: Sequence[Any], method: str, weights: dict[str, float], max_false_alarm: float,
                        max_miss: float) -> dict[str, Any] | None:
    """An ensemble's ``calibration["conditions"]``: for every condition all ``cards`` (members
    calibrated on the same images) measured, their out-of-fold copy scores combined image by
    image with the ensemble formula (member votes at that condition's member thresholds).
    None when some member has no conditions."""
    from .calibration import CalibrationSet
    from .ensemble import combined_member_scores
    from ..evaluation.metrics import roc_auc

    tables = [(c.calibration or {}).get("conditions") for c in cards]
    if not tables or not all(tables):
        return None
    names = set.intersection(*(set(t.get("measured") or {}) for t in tables))
    measured = {}
    for name in sorted(names):
        sets = [CalibrationSet.from_dict(t["measured"][name]) for t in tables]
        ids, y, score = combined_member_scores(sets, cards, method, weights, max_false_alarm, max_miss)
        if len(ids) < 4 or len(set(y.tolist())) < 2:
            continue
        cal = CalibrationSet.from_labels(y, score, method=f"cross-fitted: members' out-of-fold copy scores "
                                         f"combined ({method})", data=sets[0].data, ids=ids)
        first = tables[0]["measured"][name]
        measured[name] = {"side": first.get("side"), "quality": first.get("quality"),
                          **({"codec": first["codec"]} if first.get("codec") else {}), **cal.to_dict(),
                          "roc_auc": round(float(roc_auc(y, score)), 6),
                          "at_default_budgets": cal.operating(max_false_alarm, max_miss).to_dict()}
    origs = [t.get("original") or {} for t in tables]
    return {**{k: tables[0][k] for k in ("transform", "rule") if k in tables[0]},
            "original": {"min_side": max(int(o.get("min_side") or 0) for o in origs),
                         "min_jpeg_quality": max(int(o.get("min_jpeg_quality") or 0) for o in origs)},
            "skipped": sorted(set.intersection(*(set(t.get("skipped") or []) for t in tables))),
            "measured": measured}
