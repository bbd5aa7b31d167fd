"""The batch domain check of ``scan``: are these images from the source the detectors were calibrated on?

After every record of a scan is in, the images are grouped by directory; each group is
tested against the calibration domain of every card that carries one (:mod:`synthdetect.scan.domain`)
with a classifier two-sample test (:func:`synthdetect.scan.twosample.c2st`) on the backbone features
the probes already computed.

Decision per group and reference (thresholds measured in docs/domain.md):

* ``untested``: fewer than :data:`MIN_N` images with features (the test has no power there);
* ``out_of_domain``: ROC-AUC >= :data:`MIN_EFFECT` *and* permutation p <= :data:`ALPHA`;
* ``in_domain``: otherwise.

Two confounds are taken out before the test (measured in docs/domain.md):

* class mix: a folder of only real photos (or only fakes) of the calibration source differs
  from the mixed calibration set by its class mix alone.  The group is compared with the
  reference rows of the class mix the detector assigns to it (the reference's out-of-fold
  scores, the group's probabilities, cut at 0.5);
* content: a folder of one kind of scene (only street views, only portraits) differs from the
  varied calibration set by what it shows.  Within the calibration source the top principal
  directions of the features are such content; the test leaves out the top
  :data:`CONTENT_DIMS` of them.

And a group is out of domain only when a classifier tells it from the reference *well*
(AUC >= :data:`MIN_EFFECT`), not merely reliably: with enough images any difference is
"significant".

Mixed folders: each directory with at least ``MIN_N`` images is its own group (one group per
file format when it holds several formats with at least ``MIN_N`` images each); smaller
directories are pooled into one group; if the pool is still smaller than ``MIN_N`` it is
``untested``.  A group is out of domain when any card's reference says so.

``enforce``: in out-of-domain groups a definite detector verdict becomes ``inconclusive``
(``detector_verdict`` keeps it, the error rate is dropped, the reason names
``outside_calibration_domain``); provenance verdicts are untouched.  ``strict``: as ``enforce``,
and a detector verdict stands only where the check found its group in domain: untested groups
(fewer than ``MIN_N`` images), images without the features a reference needs and scans whose
cards carry no reference are withheld too (reason ``domain_untested``).  ``warn``: reported only.

Per image, in every group (small ones included, which the batch test cannot judge): an image
that lies farther from the calibration images than every one of them lies from the rest
(typicality 1.0, :meth:`DomainReference.typicality`) is outside what the calibration measured;
its verdict is withheld the same way (``domain.image = "beyond_calibration_images"``).  For an
image of the calibration source this happens about once in ``n + 1`` (``n`` calibration images,
by exchangeability; measured in docs/domain.md).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Sequence

import numpy as np

from .conditions import ORIGINAL, OUTSIDE
from .domain import SERIES_FRACTION, DomainReference, decode_vector, first_of_copies, leader_groups
from .twosample import c2st, pairwise_distances

MODES = ("enforce", "strict", "warn", "off")
WITHHOLDING = ("enforce", "strict")  # the modes that turn verdicts the check does not back into inconclusive
MIN_N = 10
MIN_EFFECT = 0.80
# the copies tried only for a group mostly of their kind: lossy WebP, AVIF, HEIC, greyscale (scan/conditions.py names)
FORM_CONDITIONS = {"webp": re.compile(r"webp\d+$"), "avif": re.compile(r"avif\d+$"), "heif": re.compile(r"heif\d+$"),
                   "grey": re.compile(r"grey\d+$")}
CONTENT_DIMS = 10  # the reference's top principal directions left out of the test (what images show)
ALPHA = 0.01
MAX_TESTED = 400  # a larger group is tested on a seeded random sample of this many images (bounded cost)
FEATURES_KEY = "_domain_features"  # private: {backbone sha256: base64 float16 vector}; popped before rendering
REASON = "outside_calibration_domain"
REASON_UNTESTED = "domain_untested"  # --domain-check strict: no test backs the verdict
WAY_OUT = ("fit a probe on a labelled sample of this source: `synthdetect train probe --data SAMPLE --name NAME`, "
           "then `synthdetect scan --models NAME` (for a probe already fitted on this source, the folder differs "
           "from its sample: add labelled images like these to the sample and refit)")


@dataclass
class GroupResult:
    group: str
    n: int
    decision: str  # in_domain | out_of_domain | untested
    tests: list[dict[str, Any]] = field(default_factory=list)
    directories: int = 1
    # out of domain for some cards, in domain for these (an adapted probe scanned beside the bundle):
    # scanning with them alone gives verdicts whose rates apply
    in_domain_for: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = {"group": self.group, "n": self.n, "directories": self.directories, "decision": self.decision,
             "tests": self.tests}
        if self.in_domain_for:
            d["in_domain_for"] = self.in_domain_for
        if self.borderline():
            d["borderline"] = True
        return d

    def borderline(self) -> bool:
        """In domain only for want of images: a test's classifier told the group apart as well as an
        out-of-domain group's (ROC-AUC >= MIN_EFFECT) but its p-value did not reach ALPHA."""
        return self.decision == "in_domain" and any(
            t.get("statistic") is not None and t["statistic"] >= MIN_EFFECT for t in self.tests)

    def rejected_by(self) -> list[str]:
        """The references (card names) that found the group out of domain."""
        return [t["model"] for t in self.tests if t.get("decision") == "out_of_domain"]


@dataclass
class DomainReport:
    mode: str
    groups: list[GroupResult]
    references: list[str]  # model names whose references were used
    note: str | None = None
    elapsed_s: float = 0.0
    beyond: int = 0  # images beyond every calibration image (outside an out-of-domain group)
    withheld_untested: int = 0  # strict: definite detector verdicts no test backed, withheld

    def to_dict(self) -> dict[str, Any]:
        d = {"mode": self.mode, "available": True, "references": self.references, "min_n": MIN_N, "min_effect": MIN_EFFECT,
             "alpha": ALPHA, "groups": [g.to_dict() for g in self.groups],
             "out_of_domain": sum(g.n for g in self.groups if g.decision == "out_of_domain"),
             "untested": sum(g.n for g in self.groups if g.decision == "untested"),
             "beyond_calibration_images": self.beyond,
             "elapsed_s": round(self.elapsed_s, 3)}
        if self.mode == "strict":
            d["withheld_untested"] = self.withheld_untested
        if self.note:
            d["note"] = self.note
        return d


def unavailable(mode: str) -> dict[str, Any]:
    """The summary entry of a scan whose cards carry no domain reference."""
    return {"mode": mode, "available": False, "references": [], "groups": [],
            "note": "not available: no model in this scan carries its calibration images (npr, spectral, resnet and "
                    "imported models do not; probes from `synthdetect train probe` do)"}


def _group_key(path: str) -> str:
    return os.path.dirname(path) or "."


def groups_of(records: Sequence[dict[str, Any]], min_n: int = MIN_N) -> list[tuple[str, list[int], int]]:
    """(name, record indices, directories) of the groups tested: directories with >= ``min_n``
    images carrying features (split by file format when every format holds >= ``min_n``:
    :func:`_by_format`), the rest pooled."""
    by_dir: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        if r.get("error") is None and isinstance(r.get(FEATURES_KEY), dict):
            by_dir.setdefault(_group_key(str(r.get("path", ""))), []).append(i)
    big = [(name, part, 1) for d, ix in by_dir.items() if len(ix) >= min_n
           for name, part in _by_format(d, ix, records, min_n)]
    small = [(d, ix) for d, ix in by_dir.items() if len(ix) < min_n]
    if len(small) == 1:
        big.append((small[0][0], small[0][1], 1))
    elif small:
        pooled = sorted(i for _, ix in small for i in ix)
        big.append((f"{len(small)} smaller directories, pooled", pooled, len(small)))
    return big


def _by_format(directory: str, idx: list[int], records: Sequence[dict[str, Any]], min_n: int
               ) -> list[tuple[str, list[int]]]:
    """A directory's group, or one group per file format (``directory [PNG]``) when it holds several
    formats each with at least ``min_n`` images: files saved in different formats came through
    different channels, and one channel's images diluted among another's can pass a test they
    would fail alone (measured in docs/domain.md: 46 real photos re-saved as WebP among 43 JPEGs
    read in domain together).  A format with fewer images keeps the directory whole: no image
    loses the test it had."""
    fmts: dict[str, list[int]] = {}
    for i in idx:
        fmts.setdefault(str(records[i].get("format") or "?"), []).append(i)
    if len(fmts) < 2 or any(len(ix) < min_n for ix in fmts.values()):
        return [(directory, idx)]
    return [(f"{directory} [{f}]", ix) for f, ix in sorted(fmts.items())]


def _reference_subset(ref: DomainReference, probs: np.ndarray, condition: str = "") -> np.ndarray:
    """Row indices of the reference's images of ``condition`` ("" the originals) with the class
    mix the detector assigns to the group (all of them when the rows carry no scores)."""
    orig = np.flatnonzero(ref.conditions == condition)
    sc = ref.scores[orig]
    if probs.size == 0 or not np.all(np.isfinite(sc)) or not np.all(np.isfinite(probs)):
        return orig
    pb = float(np.mean(probs >= 0.5))
    i0, i1 = orig[sc < 0.5], orig[sc >= 0.5]
    if pb <= 0.0 or pb >= 1.0:
        pick = i1 if pb >= 1.0 else i0
        return pick if pick.size >= MIN_N else orig
    total = min(i1.size / pb, i0.size / (1.0 - pb))
    n1, n0 = int(round(total * pb)), int(round(total * (1.0 - pb)))
    rng = np.random.default_rng(0)
    sub = np.r_[rng.choice(i0, min(n0, i0.size), replace=False), rng.choice(i1, min(n1, i1.size), replace=False)]
    return np.sort(sub) if sub.size >= MIN_N else orig


def test_group(ref: DomainReference, feats: np.ndarray, probs: np.ndarray, *, permutations: int | None = None,
               seed: int = 0, forms: frozenset[str] | set[str] = frozenset(),
               conditions: Collection[str] | None = None) -> dict[str, Any]:
    """One group against one reference: statistic, p-value, sizes and the decision.

    A reference with transformed copies of its images (``conditions``: downscaled, re-encoded)
    is tested condition by condition, the originals first: the group is in domain as soon as it
    is like the images of one condition (``condition`` names it), out of domain only when it is
    like none; the test reported is the closest one.  The lossy WebP copies (``webpQ`` conditions)
    are tried only for a group of lossy WebP files, the AVIF copies (``avifQ``) only for a group of
    AVIF files, the HEIC copies (``heifQ``) only for a group of HEIC files, the greyscale copies
    (``greyQ``) only for a group of greyscale images (``forms``: ``{"webp", "avif", "heif", "grey"}``,
    :func:`group_forms`): a group of
    colour JPEGs is judged by the JPEG conditions' rates, and each further condition tried is one
    more chance for a foreign batch to pass.  ``conditions`` (:func:`group_conditions`): only the
    conditions the group's verdicts are calibrated on are tried (a folder of 720 px JPEGs against
    the 720 px copies, not against the full-size originals it cannot be)."""
    if len(feats) < MIN_N:
        return {"statistic": None, "p_value": None, "n": int(len(feats)), "n_reference": None,
                "decision": "untested"}
    kw = {} if permutations is None else {"permutations": permutations}
    n_group = len(feats)
    std = ref.standardise(feats)
    keep, dist = _distinct(std, ref.copy_distance(), seed)
    if keep.size < MIN_N:
        return {"statistic": None, "p_value": None, "n": int(n_group), "n_distinct": int(keep.size),
                "n_reference": None, "decision": "untested"}
    x = ref.without_content(std[keep], CONTENT_DIMS)
    probs = np.asarray(probs)[keep]
    series = leader_groups(dist, ref.copy_distance(SERIES_FRACTION))
    if len(np.unique(series)) == keep.size:
        series = None  # no shots of one scene: the plain stratified folds
    best: dict[str, Any] | None = None
    for cond in _tried(ref, forms, conditions):
        rows = ref.rows[_reference_subset(ref, probs, cond)].astype(np.float64)
        res = c2st(x, ref.without_content(rows, CONTENT_DIMS), seed=seed, batch_groups=series, **kw)
        out = {**res.to_dict(), "condition": cond or "original"}
        out["n"] = n_group
        if keep.size < n_group:
            out["n_tested"] = int(keep.size)
        if series is not None:
            out["n_scenes"] = int(len(np.unique(series)))
        out["decision"] = "out_of_domain" if res.statistic >= MIN_EFFECT and res.p_value <= ALPHA else "in_domain"
        if best is None or out["statistic"] < best["statistic"]:
            best = out
        if out["decision"] == "in_domain":
            return out
    return best  # type: ignore[return-value]


def _tried(ref: DomainReference, forms: Collection[str], conditions: Collection[str] | None) -> list[str]:
    """The reference's conditions a group is tested against, the originals ("") first: the copies
    of a form the group is not (:data:`FORM_CONDITIONS`) left out, then, with ``conditions``, only
    those named there — unless none of them is in the reference, then all that remain."""
    conds = [c for c in dict.fromkeys(["", *map(str, ref.conditions)])
             if not any(form not in forms and pattern.search(c) for form, pattern in FORM_CONDITIONS.items())]
    named = [c for c in conds if conditions is not None and c in conditions]
    return named or conds


def group_conditions(records: Sequence[dict[str, Any]], idx: Sequence[int]) -> set[str] | None:
    """The conditions a group's verdicts are calibrated on: every measured condition its images were
    judged by (``condition``, or all of ``condition_bound``; ``""`` for the originals), images outside
    every condition left out.  None when no image carries a condition (a card without per-condition
    calibration): the group is then tested against every condition, as before."""
    names: set[str] = set()
    seen = False
    for i in idx:
        rec = records[i]
        if not rec.get("condition"):
            continue
        seen = True
        for n in rec.get("condition_bound") or [rec["condition"]]:
            if n != OUTSIDE:
                names.add("" if n == ORIGINAL else str(n))
    return names if seen else None


def distinct_images(std: np.ndarray, copy_distance: float, seed: int = 0) -> np.ndarray:
    """Indices of the rows the test uses: one per picture and at most :data:`MAX_TESTED`.

    Copies of one picture (the same file twice, a re-save, a JPEG re-encode: rows closer than
    ``copy_distance``, :meth:`DomainReference.copy_distance`) count once; otherwise the classifier
    learns them in one fold and recognises them in another, and a folder of in-source images held
    in several copies reads as foreign (measured: ROC-AUC 0.95 for 10 val-inthewild photos held
    three times each, docs/domain.md).  A group larger than :data:`MAX_TESTED` is tested on a
    seeded random sample (the test's power is long saturated there; its cost grows with the rows)."""
    return _distinct(std, copy_distance, seed)[0]


def _distinct(std: np.ndarray, copy_distance: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`distinct_images` and the distances between the rows it keeps (for the scenes)."""
    keep = np.sort(np.unique(std, axis=0, return_index=True)[1])  # identical rows: the same file
    if keep.size > MAX_TESTED:
        keep = np.sort(np.random.default_rng(seed).choice(keep, MAX_TESTED, replace=False))
    dist = pairwise_distances(std[keep], std[keep])
    first = first_of_copies(dist, copy_distance)
    return keep[first], dist[np.ix_(first, first)]


def group_forms(records: list[dict[str, Any]], idx: list[int]) -> set[str]:
    """The copies' kinds a group is tested against besides the JPEG conditions: ``webp`` (``avif``,
    ``heif``) when at least half of its files are lossy WebPs (AVIFs, HEICs) (``quality.lossy_codec``;
    without quality measures, ``--no-quality-gates``: any WebP (AVIF, HEIF)), ``grey`` when at least half are greyscale
    (``quality.greyscale``; without quality measures: a greyscale file mode)."""
    from ..inputs.quality import greyscale_mode

    def codec(name: str) -> Callable[[dict[str, Any]], bool]:
        def test(rec: dict[str, Any]) -> bool:
            q = rec.get("quality")
            return (q or {}).get("lossy_codec") == name if q and "lossy_codec" in q else rec.get("format") == name.upper()
        return test

    def grey(rec: dict[str, Any]) -> bool:
        q = rec.get("quality")
        return bool((q or {}).get("greyscale")) if q and "greyscale" in q else greyscale_mode(rec.get("mode"))

    forms = set()
    for form in FORM_CONDITIONS:
        test = grey if form == "grey" else codec(form)
        if idx and 2 * sum(1 for i in idx if test(records[i])) >= len(idx):
            forms.add(form)
    return forms


def _features(rec: dict[str, Any], ref: DomainReference) -> np.ndarray | None:
    blob = (rec.get(FEATURES_KEY) or {}).get(ref.backbone_sha256)
    return decode_vector(blob, ref.dim) if isinstance(blob, str) else None


def check(records: list[dict[str, Any]], references: dict[str, DomainReference], mode: str = "enforce",
          permutations: int | None = None) -> DomainReport | None:
    """Test every group (see the module doc) and, with ``enforce`` or ``strict``, withhold the
    detector verdicts of out-of-domain groups (``strict``: of untested ones too).  ``references``:
    card name -> reference.  Records gain ``domain.group`` and ``domain.decision``.  None when
    there is nothing to check (``off``, or no reference: see :func:`unavailable`)."""
    if mode == "off" or not references:
        return None
    # one test per distinct reference (ensemble members fitted on the same images share it)
    distinct: dict[int, tuple[str, DomainReference]] = {}
    sharing: dict[str, list[str]] = {}  # the tested card's name -> every card of the scan with that reference
    for name, ref in references.items():
        first, _ = distinct.setdefault(hash((ref.backbone_sha256, ref.rows.tobytes())), (name, ref))
        sharing.setdefault(first, []).append(name)
    t0 = time.perf_counter()
    report = DomainReport(mode=mode, groups=[], references=sorted(references))
    for gname, idx, ndirs in groups_of(records):
        g = GroupResult(group=gname, n=len(idx), decision="untested", directories=ndirs)
        forms, conditions = group_forms(records, idx), group_conditions(records, idx)  # the group's, for every reference
        for name, ref in distinct.values():
            vecs = [(i, _features(records[i], ref)) for i in idx]
            ok = [i for i, v in vecs if v is not None]
            feats = np.array([v for _, v in vecs if v is not None]).reshape(len(ok), ref.dim)
            probs = np.array([((records[i].get("models") or {}).get(name) or {}).get("probability", np.nan)
                              for i in ok], dtype=np.float64)
            t = test_group(ref, feats, probs, permutations=permutations, forms=forms, conditions=conditions)
            g.tests.append({"model": name, **t})
        decisions = {t["decision"] for t in g.tests}
        g.decision = "out_of_domain" if "out_of_domain" in decisions else (
            "in_domain" if "in_domain" in decisions else "untested")
        if g.decision == "out_of_domain":
            g.in_domain_for = [n for t in g.tests if t["decision"] == "in_domain" for n in sharing[t["model"]]]
        report.groups.append(g)
        why = f"{g.group} holds {g.n} image{'s' if g.n != 1 else ''} with features, too few for the batch test (at least {MIN_N})"
        for i in idx:
            _mark(records[i], g, enforce=mode in WITHHOLDING)
            if mode == "strict" and g.decision == "untested":
                report.withheld_untested += withhold_untested(records[i], why)
            if g.decision != "out_of_domain" and _beyond(records[i]):
                report.beyond += 1
                _mark_beyond(records[i], enforce=mode in WITHHOLDING)
    if mode == "strict":  # records no group held: nothing carried the features a reference needs
        for r in records:
            if r.get("error") is None and "decision" not in (r.get("domain") or {}):
                report.withheld_untested += withhold_untested(
                    r, "its image carried none of the features the domain references need")
    if not report.groups:
        report.note = "no image carried the backbone features the domain references need"
    report.elapsed_s = time.perf_counter() - t0
    return report


def _mark(rec: dict[str, Any], g: GroupResult, enforce: bool) -> None:
    dom = rec.setdefault("domain", {})
    dom["group"] = g.group
    dom["decision"] = g.decision
    if g.decision != "out_of_domain" or not enforce:
        return
    if rec.get("verdict_source") != "detectors":
        return  # provenance verdicts stand
    _withhold(rec, out_of_domain_reason(g))


def out_of_domain_reason(g: GroupResult) -> str:
    """Why an out-of-domain group's verdicts are withheld; when other cards of the scan found it in
    domain, which ones, and how to scan with them alone."""
    t = max((t for t in g.tests if t.get("decision") == "out_of_domain"), key=lambda t: t.get("statistic") or 0.0)
    stat = f"two-sample test ROC-AUC {t['statistic']:.2f}, p = {t['p_value']:.3g}"
    if not g.in_domain_for:
        return (f"{REASON}: the {g.n} images of {g.group} are not like the images the detectors were calibrated on "
                f"({stat}): their error rates do not apply")
    return (f"{REASON}: the {g.n} images of {g.group} are not like {_names(g.rejected_by())}'s calibration images "
            f"({stat}): the combined verdict's error rates do not apply (they are like {_names(g.in_domain_for)}'s: "
            f"{scan_alone(g.in_domain_for)})")


def _names(names: Sequence[str]) -> str:
    return " and ".join(", ".join(names).rsplit(", ", 1)) if len(names) > 1 else names[0]


def scan_alone(names: Sequence[str]) -> str:
    """The way to scan with only the cards named (those in domain for a group)."""
    return f"scan with `--models {','.join(names)}`"


BEYOND = "beyond_calibration_images"


def _beyond(rec: dict[str, Any]) -> bool:
    """Whether the image lies beyond every calibration image of some card (typicality 1.0)."""
    typ = (rec.get("domain") or {}).get("typicality") or {}
    return any(isinstance(v, (int, float)) and v >= 1.0 for v in typ.values())


def _mark_beyond(rec: dict[str, Any], enforce: bool) -> None:
    rec.setdefault("domain", {})["image"] = BEYOND
    if enforce and rec.get("verdict_source") == "detectors":
        _withhold(rec, f"{REASON}: this image lies farther from the detectors' calibration images than any of them "
                       "does from the rest (typicality 1.0): their error rates do not apply to it")


def withheld_by_domain(rec: dict[str, Any]) -> bool:
    """Whether the domain check withheld (or would have withheld, had it been definite) the
    record's detector verdict: out of domain, beyond the calibration images, or untested under
    ``strict`` (its ``reasons`` say so; ``warn`` adds none)."""
    return any(str(x).startswith((REASON, REASON_UNTESTED)) for x in rec.get("reasons") or [])


def withhold_untested(rec: dict[str, Any], what: str) -> int:
    """``--domain-check strict``: withhold a detector verdict that no domain test backs (``what``
    says why there was none); 1 when a definite detector verdict was withheld, else 0 (an
    inconclusive one gets the reason added)."""
    if rec.get("verdict_source") != "detectors" or rec.get("error") is not None:
        return 0
    definite = rec.get("verdict") in ("real", "synthetic")
    _withhold(rec, f"{REASON_UNTESTED}: {what}, so whether the detectors' error rates apply is unknown "
                   "(--domain-check strict withholds such verdicts)")
    return int(definite)


def _withhold(rec: dict[str, Any], why: str) -> None:
    """A definite detector verdict becomes inconclusive with ``why`` (kept as ``detector_verdict``,
    its error rates dropped); an inconclusive one gets ``why`` added."""
    if rec.get("verdict") not in ("real", "synthetic"):  # already inconclusive: the reason is added
        rec["reasons"] = [*(rec.get("reasons") or []), why]
        return
    rec.setdefault("detector_verdict", rec["verdict"])
    rec["verdict"] = "inconclusive"
    rec["error_rate"] = None
    for m in (rec.get("models") or {}).values():
        m.pop("error_rate", None)
    rec["reasons"] = [why]


def strip(rec: dict[str, Any]) -> dict[str, Any]:
    """The record without the private feature vectors (before it is rendered)."""
    rec.pop(FEATURES_KEY, None)
    return rec
