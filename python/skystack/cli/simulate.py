# SPDX-License-Identifier: GPL-3.0-or-later
"""``skystack simulate OUTDIR --preset demo|small|bench|tiny [--seed N] [-c field=value]``."""

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
def simulate(
    outdir: str, preset: str, seed: int | None, overrides: tuple[str, ...], no_progress: bool
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
