# SPDX-License-Identifier: GPL-3.0-or-later
"""The LSST SRD key performance metrics: definitions, thresholds and result containers.

Thresholds are those of the LSST Science Requirements Document (LPM-17, Ivezić et al. 2018):
Table 14 (photometric repeatability: PA1, PF1, PA2), Table 18 (relative astrometry:
AM1–3, AF1–3, AD1–3) and Table 27 (PSF-ellipticity residual correlations: TE1, TE2). For the
u, z and y bands the SRD relaxes PA1 and PA2 by a factor 1.5. Every metric is "smaller is better":
a value passes a level when it is at most that level's threshold.

`MetricValue` holds one computed metric with its thresholds and verdicts; `MetricSet` holds all
of them, prints a readable table and round-trips through JSON (it is registered with
`skystack.utils.persist.register_persistable` so that it can be stored as a dataset).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from skystack.utils.persist import register_persistable

__all__ = [
    "METRIC_DEFINITIONS",
    "SRD_THRESHOLDS",
    "MetricSet",
    "MetricValue",
    "SrdThreshold",
    "srd_threshold",
]

#: Bands where the SRD relaxes the photometric requirements by 1.5 (LPM-17 §3.3.2).
_RELAXED_BANDS = frozenset({"u", "z", "y"})


@dataclass(frozen=True)
class SrdThreshold:
    """The three SRD levels of one metric (smaller values are better).

    Attributes
    ----------
    design, minimum, stretch : `float`
        The design specification, the minimum specification and the stretch goal.
    unit : `str`
        Unit of the thresholds and of the metric value.
    reference : `str`
        Where the numbers come from.
    """

    design: float
    minimum: float
    stretch: float
    unit: str
    reference: str


def _t(design: float, minimum: float, stretch: float, unit: str, table: str) -> SrdThreshold:
    return SrdThreshold(design, minimum, stretch, unit, f"LSST SRD (LPM-17) {table}")


#: ``{(metric, band_group): SrdThreshold}``; band_group is ``"gri"``, ``"uzy"`` or ``"all"``.
SRD_THRESHOLDS: Mapping[tuple[str, str], SrdThreshold] = {
    ("PA1", "gri"): _t(5.0, 8.0, 3.0, "mmag", "Table 14"),
    ("PA1", "uzy"): _t(7.5, 12.0, 4.5, "mmag", "Table 14 (x1.5 in u, z, y)"),
    ("PF1", "all"): _t(10.0, 20.0, 5.0, "%", "Table 14"),
    ("PA2", "gri"): _t(15.0, 15.0, 10.0, "mmag", "Table 14"),
    ("PA2", "uzy"): _t(22.5, 22.5, 15.0, "mmag", "Table 14 (x1.5 in u, z, y)"),
    ("AM1", "all"): _t(10.0, 20.0, 5.0, "mas", "Table 18"),
    ("AF1", "all"): _t(10.0, 20.0, 5.0, "%", "Table 18"),
    ("AD1", "all"): _t(20.0, 40.0, 10.0, "mas", "Table 18"),
    ("AM2", "all"): _t(10.0, 20.0, 5.0, "mas", "Table 18"),
    ("AF2", "all"): _t(10.0, 20.0, 5.0, "%", "Table 18"),
    ("AD2", "all"): _t(20.0, 40.0, 10.0, "mas", "Table 18"),
    ("AM3", "all"): _t(15.0, 30.0, 10.0, "mas", "Table 18"),
    ("AF3", "all"): _t(10.0, 20.0, 5.0, "%", "Table 18"),
    ("AD3", "all"): _t(30.0, 50.0, 20.0, "mas", "Table 18"),
    ("TE1", "all"): _t(2.0e-5, 3.0e-5, 1.0e-5, "", "Table 27"),
    ("TE2", "all"): _t(1.0e-7, 3.0e-7, 5.0e-8, "", "Table 27"),
}

#: One-paragraph definition of each metric as computed here.
METRIC_DEFINITIONS: Mapping[str, str] = {
    "PA1": (
        "Median over bright stars (>= min_measurements measurements, median S/N >= min_snr, "
        "median extendedness < max_extendedness) of the population RMS (ddof=0) of each star's "
        "PSF magnitudes about their mean, in mmag."
    ),
    "PF1": (
        "Percentage of the PA1 stars' measurements deviating from their star's mean magnitude by "
        "more than the PA2 design value (15 mmag in g, r, i; 22.5 mmag in u, z, y)."
    ),
    "PA2": (
        "Deviation from the star's mean magnitude exceeded by PF1-design (10 %) of the PA1 stars' "
        "measurements (the 90th percentile of |m - <m>|), in mmag."
    ),
    "AMx": (
        "Median over pairs of bright stars whose mean separation is within D +/- "
        "annulus_half_width (D = 5', 20', 200' for AM1, AM2, AM3) of the population RMS (ddof=0) "
        "of the pair's angular separation across the visits where both stars are measured, in mas."
    ),
    "AFx": "Percentage of the AMx pairs whose separation RMS exceeds AMx + ADx(design).",
    "ADx": (
        "Excess over AMx of the separation RMS exceeded by AFx-design (10 %) of the AMx pairs "
        "(90th percentile of the pair RMS minus AMx), in mas."
    ),
    "TE1": (
        "Correlation xi = <e1 e1' + e2 e2'> of the PSF-ellipticity residuals e = e_star - e_psf "
        "(e1 = (Ixx - Iyy) / (Ixx + Iyy), e2 = 2 Ixy / (Ixx + Iyy)) over pairs of stars of one "
        "visit closer than te1_max_arcmin (1'); the statistic (median by default) over visits."
    ),
    "TE2": (
        "As TE1 over pairs of stars of one visit with separation in [te2_min_arcmin, "
        "te2_max_arcmin] (5' to 20' by default)."
    ),
}


def _band_group(band: str | None) -> str:
    return "uzy" if band in _RELAXED_BANDS else "gri"


def srd_threshold(name: str, band: str | None = None) -> SrdThreshold:
    """The SRD thresholds of metric ``name`` (e.g. ``"PA1"``, ``"AM2"``) in ``band``.

    Raises
    ------
    KeyError
        If the metric has no SRD threshold; the message lists the known metrics.
    """
    for key in ((name, "all"), (name, _band_group(band))):
        if key in SRD_THRESHOLDS:
            return SRD_THRESHOLDS[key]
    known = sorted({k[0] for k in SRD_THRESHOLDS})
    raise KeyError(f"No SRD threshold for metric {name!r}; known metrics: {', '.join(known)}")


def definition_of(name: str) -> str:
    """The definition text of metric ``name`` (``AM1`` → the ``AMx`` text)."""
    if name in METRIC_DEFINITIONS:
        return METRIC_DEFINITIONS[name]
    return METRIC_DEFINITIONS[name[:2] + "x"]


def _passes(value: float, threshold: float) -> bool | None:
    return None if not math.isfinite(value) else bool(value <= threshold)


@dataclass(frozen=True)
class MetricValue:
    """One computed SRD metric.

    Attributes
    ----------
    name : `str`
        Metric name (``"PA1"``, ``"AM1"``, ``"TE2"``, ...).
    band : `str`
        Band the metric was computed in.
    value : `float`
        The metric; NaN when it could not be computed (see ``reason``).
    unit : `str`
        Unit of ``value`` and of the thresholds (``"mmag"``, ``"mas"``, ``"%"`` or ``""``).
    n_objects : `int`
        Number of stars that entered the metric.
    n_pairs : `int`
        Number of star pairs that entered the metric (0 for the photometric metrics).
    design, minimum, stretch : `float`
        SRD thresholds.
    passed_design, passed_minimum, passed_stretch : `bool` or `None`
        ``value <= threshold``; None when the value is NaN.
    definition : `str`
        What was computed.
    reason : `str`
        Why the value is NaN (empty when it is not).
    """

    name: str
    band: str
    value: float
    unit: str
    n_objects: int
    n_pairs: int
    design: float
    minimum: float
    stretch: float
    passed_design: bool | None
    passed_minimum: bool | None
    passed_stretch: bool | None
    definition: str
    reason: str = ""

    @classmethod
    def from_srd(
        cls, name: str, band: str, value: float, *, n_objects: int, n_pairs: int = 0, reason: str = ""
    ) -> MetricValue:
        """Build a metric value with the SRD thresholds, verdicts and definition of ``name``."""
        thr = srd_threshold(name, band)
        value = float(value)
        return cls(
            name=name,
            band=band,
            value=value,
            unit=thr.unit,
            n_objects=int(n_objects),
            n_pairs=int(n_pairs),
            design=thr.design,
            minimum=thr.minimum,
            stretch=thr.stretch,
            passed_design=_passes(value, thr.design),
            passed_minimum=_passes(value, thr.minimum),
            passed_stretch=_passes(value, thr.stretch),
            definition=definition_of(name),
            reason=reason if not math.isfinite(value) else "",
        )

    @classmethod
    def undefined(
        cls, name: str, band: str, reason: str, *, n_objects: int = 0, n_pairs: int = 0
    ) -> MetricValue:
        """A NaN metric value explaining why it could not be computed."""
        return cls.from_srd(name, band, math.nan, n_objects=n_objects, n_pairs=n_pairs, reason=reason)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (NaN value as None)."""
        data = asdict(self)
        data["value"] = self.value if math.isfinite(self.value) else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricValue:
        """Inverse of `to_dict`."""
        values = dict(data)
        values["value"] = math.nan if values.get("value") is None else float(values["value"])
        return cls(**values)


def _verdict(passed: bool | None) -> str:
    return "n/a" if passed is None else ("pass" if passed else "FAIL")


def _fmt_value(value: float) -> str:
    if not math.isfinite(value):
        return "nan"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.3g}"
    return f"{value:.3f}"


@register_persistable("skystack.qa.MetricSet")
@dataclass(frozen=True)
class MetricSet:
    """The SRD metrics of one matched catalog.

    Attributes
    ----------
    metrics : `tuple` of `MetricValue`
        All metrics, in computation order (photometry, astrometry, ellipticity; band by band).
    config : `dict`
        The selection config the metrics were computed with (``SrdMetricsConfig.to_dict()``).
    notes : `tuple` of `str`
        Remarks about the computation (e.g. "no shape columns: TE1/TE2 not computed").
    """

    metrics: tuple[MetricValue, ...]
    config: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[MetricValue]:
        return iter(self.metrics)

    def __len__(self) -> int:
        return len(self.metrics)

    @property
    def bands(self) -> list[str]:
        """Bands present in the set, in order of first appearance."""
        return list(dict.fromkeys(m.band for m in self.metrics))

    def get(self, name: str, band: str) -> MetricValue:
        """The metric ``name`` in ``band``.

        Raises
        ------
        KeyError
            If the set has no such metric; the message lists what it has.
        """
        for m in self.metrics:
            if m.name == name and m.band == band:
                return m
        have = ", ".join(f"{m.name}[{m.band}]" for m in self.metrics) or "(none)"
        raise KeyError(f"No metric {name!r} in band {band!r}; the set has: {have}")

    def select(self, names: Iterable[str] | None = None, bands: Iterable[str] | None = None) -> MetricSet:
        """A new set keeping the metrics whose name is in ``names`` and band in ``bands``."""
        keep_n = None if names is None else set(names)
        keep_b = None if bands is None else set(bands)
        kept = tuple(
            m
            for m in self.metrics
            if (keep_n is None or m.name in keep_n) and (keep_b is None or m.band in keep_b)
        )
        return MetricSet(kept, dict(self.config), self.notes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict: ``{"metrics": [...], "config": {...}, "notes": [...]}``."""
        return {
            "metrics": [m.to_dict() for m in self.metrics],
            "config": dict(self.config),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricSet:
        """Inverse of `to_dict`."""
        return cls(
            tuple(MetricValue.from_dict(m) for m in data["metrics"]),
            dict(data.get("config", {})),
            tuple(data.get("notes", ())),
        )

    def to_json(self, indent: int | None = 2) -> str:
        """The set as JSON text (NaN values written as null)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> MetricSet:
        """Inverse of `to_json`."""
        return cls.from_dict(json.loads(text))

    def format_table(self) -> str:
        """A fixed-width text table: metric, band, value, unit, counts, thresholds and verdicts."""
        header = ("metric", "band", "value", "unit", "N", "design", "minimum", "stretch", "design?", "min?")
        rows = [header]
        for m in self.metrics:
            count = f"{m.n_pairs}p" if m.n_pairs else str(m.n_objects)
            rows.append(
                (
                    m.name,
                    m.band,
                    _fmt_value(m.value),
                    m.unit or "-",
                    count,
                    _fmt_value(m.design),
                    _fmt_value(m.minimum),
                    _fmt_value(m.stretch),
                    _verdict(m.passed_design),
                    _verdict(m.passed_minimum),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [
            "  ".join(
                c.rjust(w) if i == 2 or i >= 4 else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
            for r in rows
        ]
        lines.insert(1, "-" * len(lines[0]))
        reasons = [f"{m.name}[{m.band}]: {m.reason}" for m in self.metrics if m.reason]
        if reasons:
            lines.append("")
            lines.append("not computed:")
            lines.extend(f"  {r}" for r in reasons)
        if self.notes:
            lines.append("")
            lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)
