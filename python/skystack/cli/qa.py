# SPDX-License-Identifier: GPL-3.0-or-later
"""``skystack qa-metrics FILE``: the SRD metrics of a matched multi-visit table (Parquet or FITS).

A standalone `click.Command` (`qa_metrics`), registered in the ``skystack`` group with
``main.add_command(qa_metrics)``. Heavy imports happen only when the command runs.
"""

from __future__ import annotations

import click

__all__ = ["qa_metrics"]


def _parse_column_map(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in pairs:
        ours, sep, theirs = item.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise click.BadParameter(
                f"{item!r} is not OURS=THEIRS (e.g. --column-map psf_mag=mag_psf)", param_hint="--column-map"
            )
        mapping[ours.strip()] = theirs.strip()
    return mapping


@click.command("qa-metrics", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--column-map",
    "column_map",
    multiple=True,
    metavar="OURS=THEIRS",
    help="Name of your column for one of ours (object_id, visit, band, psf_mag, psf_mag_err, snr, "
    "extendedness, ra, dec, ixx, iyy, ixy, ixx_psf, iyy_psf, ixy_psf). Repeatable.",
)
@click.option("--band", "bands", multiple=True, help="Band to compute (repeatable; default: all bands).")
@click.option("--min-snr", type=float, default=None, help="Minimum median S/N of PA1 stars [200].")
@click.option("--astrometry-min-snr", type=float, default=None, help="Minimum median S/N of AMx stars [50].")
@click.option(
    "--max-extendedness", type=float, default=None, help="Stars have median extendedness below this [0.9]."
)
@click.option("--min-measurements", type=int, default=None, help="Minimum measurements per star [3].")
@click.option("--flag", "flags", multiple=True, help="Flag column rejecting measurements (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON instead of a table.")
def qa_metrics(
    file: str,
    column_map: tuple[str, ...],
    bands: tuple[str, ...],
    min_snr: float | None,
    astrometry_min_snr: float | None,
    max_extendedness: float | None,
    min_measurements: int | None,
    flags: tuple[str, ...],
    as_json: bool,
) -> None:
    """Compute the LSST SRD metrics (PA1, PF1, PA2, AM1-3, AF1-3, AD1-3, TE1-2) of FILE.

    FILE is a Parquet (.parquet, .pq) or FITS (.fits, .fit, .fits.gz) table with one row per
    measurement of an object in a visit. See doc/srd-metrics.md for the definitions and cuts.
    """
    from skystack.config import ConfigError
    from skystack.qa import MatchedTableError, SrdMetricsConfig, compute_srd_metrics

    mapping = _parse_column_map(column_map)
    try:
        config = SrdMetricsConfig()
        if bands:
            config.bands = list(bands)
        if min_snr is not None:
            config.min_snr = min_snr
        if astrometry_min_snr is not None:
            config.astrometry_min_snr = astrometry_min_snr
        if max_extendedness is not None:
            config.max_extendedness = max_extendedness
        if min_measurements is not None:
            config.min_measurements = min_measurements
        if flags:
            config.flag_columns = list(flags)
        metrics = compute_srd_metrics(file, config=config, column_map=mapping)
    except (ConfigError, MatchedTableError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(metrics.to_json() if as_json else metrics.format_table())
