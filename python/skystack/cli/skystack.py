# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``skystack`` command: tools beside ``butler`` and ``pipetask``.

- ``skystack show-config TASK``: a task's resolved config after overrides, with field history.
- ``skystack smoke``: run a small task on a simulated image end to end (the smoke job used by
  the README's Quick start until the demo pipeline exists).
- ``skystack qa-metrics FILE``: the SRD metrics (PA1, AM1, TE1, ...) of a matched catalog.
- ``skystack simulate OUTDIR --preset demo``: raw frames, calibration exposures, a reference
  catalog and truth of a simulated survey with the SimCam camera.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import log_level_option, version_option
from .qa import qa_metrics
from .simulate import simulate

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@log_level_option
@version_option
def main() -> None:
    """skystack tools: configs, simulations, reports."""


def _build_config(  # returns (Task class, its config)
    task_class: str,
    overrides: tuple[str, ...],
    files: tuple[str, ...],
    pipeline: tuple[str, str] | None = None,
):
    """Import a Task class and build its config: shipped pipeline block, then -C files, then -c."""
    from skystack.config import ConfigError, ConfigSource, SourceKind, import_class, load_yaml_with_lines
    from skystack.resources import config_resource
    from skystack.task import Task

    try:
        cls = import_class(task_class)
    except ConfigError as err:
        raise click.UsageError(str(err)) from None
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise click.UsageError(f"{task_class} is not a skystack Task class")
    config = cls.ConfigClass()
    try:
        if pipeline is not None:
            name, label = pipeline
            resource = config_resource("pipelines", name)
            data, lines = load_yaml_with_lines(resource.read_text(), f"config/pipelines/{name}")
            prefix = f"tasks.{label}.config."
            block = data["tasks"][label].get("config", {})
            rebased = {k[len(prefix) :]: v for k, v in lines.items() if k.startswith(prefix)}
            config.apply_mapping(
                block, ConfigSource(SourceKind.PIPELINE, f"config/pipelines/{name}"), rebased
            )
        for path in files:
            config.load_overrides(Path(path), SourceKind.FILE)
        config.apply_overrides(overrides)
        config.check()
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    return cls, config


@main.command("show-config")
@click.argument("task_class")
@click.option("-c", "--config", "overrides", multiple=True, metavar="FIELD=VALUE", help="Override a field.")
@click.option(
    "-C", "--config-file", "files", multiple=True, type=click.Path(), help="YAML file of overrides."
)
@click.option(
    "--history", "history", multiple=True, metavar="FIELD", help="Show where FIELD's value came from."
)
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("--describe", is_flag=True, help="Describe every field instead of printing values.")
def show_config(
    task_class: str,
    overrides: tuple[str, ...],
    files: tuple[str, ...],
    history: tuple[str, ...],
    fmt: str,
    describe: bool,
) -> None:
    """Print the config of TASK_CLASS (e.g. skystack.tasks.image_statistics.ImageStatisticsTask).

    Files (-C) apply first, in order, then -c overrides.
    """
    from skystack.config import ConfigError

    cls, config = _build_config(task_class, overrides, files)
    if describe:
        click.echo(cls.ConfigClass.describe())
        return
    click.echo(config.to_json() if fmt == "json" else config.to_yaml(), nl=False)
    for path in history:
        try:
            click.echo(config.format_history(path))
        except ConfigError as err:
            raise click.ClickException(str(err)) from None


@main.command("smoke")
@click.option("--size", default=1024, show_default=True, help="Image side in pixels.")
@click.option("--seed", default=1, show_default=True, help="Random seed of the simulated image.")
@click.option("-c", "--config", "overrides", multiple=True, metavar="FIELD=VALUE", help="Override a field.")
@click.option(
    "-C", "--config-file", "files", multiple=True, type=click.Path(), help="YAML file of overrides."
)
def smoke(size: int, seed: int, overrides: tuple[str, ...], files: tuple[str, ...]) -> None:
    """Measure the sky level and noise of a simulated star field with ImageStatisticsTask.

    The image has a sky of 1000 counts with Poisson noise, Gaussian stars and a few hot
    pixels; the result is checked against that truth and the task's metadata is printed.
    """
    import numpy as np

    cls, config = _build_config(
        "skystack.tasks.image_statistics.ImageStatisticsTask",
        overrides,
        files,
        pipeline=("smoke.yaml", "image_statistics"),
    )
    rng = np.random.default_rng(seed)
    sky = 1000.0
    yy, xx = np.mgrid[0:size, 0:size]
    image = np.full((size, size), sky)
    n_stars = max(1, size * size // 4000)
    xs, ys = rng.uniform(0, size, n_stars), rng.uniform(0, size, n_stars)
    fluxes = rng.pareto(1.5, n_stars) * 2000 + 500
    sigma = 2.0
    for x, y, f in zip(xs, ys, fluxes, strict=True):  # a few hundred stamps, not per pixel
        x0, y0 = int(x), int(y)
        sl = (slice(max(0, y0 - 10), y0 + 11), slice(max(0, x0 - 10), x0 + 11))
        image[sl] += (
            f / (2 * np.pi * sigma**2) * np.exp(-((xx[sl] - x) ** 2 + (yy[sl] - y) ** 2) / (2 * sigma**2))
        )
    image = rng.poisson(image).astype(np.float32)
    hot = rng.integers(0, size, (size // 10, 2))
    image[hot[:, 1], hot[:, 0]] = 60000.0

    task = cls(config=config.freeze())
    result = task.run(image)
    expected_noise = np.sqrt(sky)
    click.echo(f"simulated {size}x{size} image: sky {sky:.1f}, noise {expected_noise:.2f}, {n_stars} stars")
    click.echo(f"measured  level {result.level:.2f}, noise {result.noise:.2f} from {result.n_used} pixels")
    click.echo("task metadata:")
    click.echo(task.get_full_metadata().to_json())
    level_ok = abs(result.level - sky) < 5 * expected_noise / np.sqrt(result.n_used) + 2.0
    noise_ok = abs(result.noise / expected_noise - 1) < 0.1
    if not (level_ok and noise_ok):
        click.echo("smoke job FAILED: the measured sky differs from the simulated truth", err=True)
        sys.exit(1)
    click.echo("smoke job OK")


main.add_command(qa_metrics)
main.add_command(simulate)

if __name__ == "__main__":
    main()
