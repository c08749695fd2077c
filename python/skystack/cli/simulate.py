# SPDX-License-Identifier: GPL-3.0-or-later
"""``skystack simulate OUTDIR --preset demo|small|bench|tiny [--seed N] [-c field=value] [--repo REPO]``.

With ``--repo`` the simulation is then put into a Butler repository (created, SQLite, if missing):
instrument, skymap, raws, visits, curated calibrations and the reference catalogue (see
`skystack.instruments.sim_ingest`).
"""

from __future__ import annotations

import click

__all__ = ["simulate"]


@click.command("simulate")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option(
    "--preset", type=click.Choice(["tiny", "demo", "small", "bench"]), default="demo", show_default=True
)
@click.option("--seed", type=int, default=None, help="Random seed (default: the preset's).")
@click.option("-c", "--config", "overrides", multiple=True, metavar="FIELD=VALUE", help="Override a field.")
@click.option("--no-progress", is_flag=True, help="Do not show a progress bar.")
@click.option(
    "--repo",
    default=None,
    type=click.Path(file_okay=False),
    help="Then ingest everything into this Butler repository (created if missing).",
)
@click.option(
    "--transfer",
    type=click.Choice(["copy", "link", "symlink", "move", "direct"]),
    default="copy",
    show_default=True,
    help="How the raws enter the repository (with --repo).",
)
@click.option("-j", "--processes", type=click.IntRange(min=1), default=1, help="Header-reading processes.")
def simulate(
    outdir: str,
    preset: str,
    seed: int | None,
    overrides: tuple[str, ...],
    no_progress: bool,
    repo: str | None,
    transfer: str,
    processes: int,
) -> None:
    """Simulate a SimCam survey into OUTDIR: raw/, calib_raw/, refcat/, truth/ and manifest.json."""
    from tqdm import tqdm

    from skystack.config import ConfigError
    from skystack.sim import SimulatorConfig
    from skystack.sim import simulate as run

    config = SimulatorConfig.preset(preset)
    try:
        if seed is not None:
            config.seed = seed
        config.apply_overrides(overrides)
        config.check()
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    bar = tqdm(desc="simulate", unit="file", disable=no_progress)
    try:
        result = run(config, outdir, progress=lambda _name: bar.update(1))
    finally:
        bar.close()
    click.echo(
        f"wrote {len(result.raw_files)} raws, {len(result.calib_files)} calibration raws, "
        f"refcat of {result.counts['refcat']} stars, truth for {result.counts['objects']} objects"
    )
    click.echo("timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in result.timings.items()))
    click.echo(f"manifest: {result.manifest}")
    if repo is not None:
        _ingest(outdir, repo, transfer, processes)


def _ingest(outdir: str, repo: str, transfer: str, processes: int) -> None:
    """Create (if needed) the repository and ingest the simulation into it."""
    import time
    from pathlib import Path

    from skystack.butler import Butler, RegistryError, RepoConfigError
    from skystack.instruments.sim_ingest import ingest_simulation

    t0 = time.perf_counter()
    try:
        if (Path(repo) / "butler.yaml").exists():
            butler = Butler(repo, writeable=True)
        else:
            butler = Butler.create(repo)
        with butler:
            report = ingest_simulation(butler, outdir, transfer=transfer, processes=processes)
    except (RepoConfigError, RegistryError, ValueError, LookupError) as err:
        raise click.ClickException(str(err)) from None
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
    click.echo(f"repository {repo}: {counts} ({time.perf_counter() - t0:.2f} s)")
    click.echo(
        f"collections: {report.instrument}/raw/all, refcats, skymaps (chained as "
        f"{report.instrument}/defaults) and {report.instrument}/calib"
    )
    for path, why in report.failures.items():
        click.echo(f"FAILED {path}: {why}", err=True)
    if report.failures:
        raise click.ClickException(f"{len(report.failures)} raw file(s) were not ingested")
