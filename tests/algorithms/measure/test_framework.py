# SPDX-License-Identifier: GPL-3.0-or-later
"""The measurement framework on simulated fields: every column against truth, noise replacement, registry."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest
from measure_sim import add_gaussian, add_psf_star, noisy

from skystack.algorithms.measure import (
    DEFAULT_PLUGINS,
    MeasurementData,
    MeasurementError,
    MeasurementPlugin,
    NoiseReplacer,
    SingleFrameMeasurement,
    SingleFrameMeasurementConfig,
    aperture_fluxes,
    aperture_tag,
    assign_layers,
    get_plugin_class,
    psf_shape_at,
    register_plugin,
    registered_plugins,
)
from skystack.algorithms.measure.footprint_spans import FootprintSpans
from skystack.algorithms.measure.plugins import ApertureFluxConfig
from skystack.config import Config
from skystack.geom import Box2I
from skystack.image import Footprint, HeavyFootprint
from skystack.image.mask import default_plane_dict
from skystack.image.psf import GaussianPsf, MoffatPsf, PixelPsf, Psf
from skystack.table import Field, Schema, SourceCatalog

SKY = 100.0
SIGMA = 1.8
RADII = ApertureFluxConfig().radii


def circle_footprint(x: float, y: float, radius: float, value: float = 1.0) -> Footprint:
    fp = Footprint.from_circle(x, y, radius)
    fp.add_peak(math.floor(x + 0.5), math.floor(y + 0.5), value)
    return fp


def simulate(psf: Psf, seed: int, shape: tuple[int, int] = (500, 500)) -> dict:
    """Isolated stars and galaxies on a 60-px grid, a blended pair, an edge star and masked pixels."""
    rng = np.random.default_rng(seed)
    g = 40.0 + 60.0 * np.arange(8)
    gx, gy = np.meshgrid(g, g)
    x = gx.ravel() + rng.uniform(-0.5, 0.5, gx.size)
    y = gy.ravel() + rng.uniform(-0.5, 0.5, gy.size)
    n = x.size
    flux = np.exp(rng.uniform(np.log(1e4), np.log(1e5), n))
    galaxy = np.zeros(n, dtype=bool)
    galaxy[[5, 12, 19, 30, 41, 50, 58]] = True
    psf_xx = psf.compute_shape()[0]
    gal_m = rng.uniform(5.0, 9.0, n)
    model = np.zeros(shape)
    for k in range(n):
        if galaxy[k]:
            add_gaussian(model, x[k], y[k], flux[k], psf_xx + gal_m[k], psf_xx + 0.6 * gal_m[k], 1.0, half=40)
        else:
            add_psf_star(model, psf, x[k], y[k], flux[k])
    # an edge star and a blended pair (in the last grid gap, away from the others)
    edge = (4.3, 250.6, 3e4)
    add_psf_star(model, psf, *edge)
    pair = [(70.2, 70.4, 4e4), (74.6, 71.1, 2.5e4)]
    models = []
    for px, py, pf in pair:
        m = np.zeros(shape)
        add_psf_star(m, psf, px, py, pf)
        models.append(m)
        model += m
    image, variance = noisy(rng, model, SKY)
    mask = np.zeros(shape, dtype=np.int32)
    planes = default_plane_dict()
    mask[math.floor(y[0] + 0.5), math.floor(x[0] + 0.5)] |= 1 << planes["SAT"]
    mask[math.floor(y[1] + 0.5) + 5, math.floor(x[1] + 0.5)] |= 1 << planes["CR"]
    footprints: list[Footprint] = [circle_footprint(x[k], y[k], 12.0) for k in range(n)]
    footprints.append(circle_footprint(edge[0], edge[1], 12.0))
    parent = circle_footprint(pair[0][0], pair[0][1], 12.0).merged(
        circle_footprint(pair[1][0], pair[1][1], 12.0)
    )
    footprints.append(parent)
    total = models[0] + models[1]
    for m, (px, py, _) in zip(models, pair, strict=True):
        child = Footprint(parent.span_y, parent.span_x0, parent.span_x1)
        child.add_peak(math.floor(px + 0.5), math.floor(py + 0.5), 1.0)
        xs, ys = child.pixel_coordinates()
        ratio = m[ys, xs] / np.maximum(total[ys, xs], 1e-300)
        footprints.append(HeavyFootprint(child, image[ys, xs] * ratio))
    truth_x = np.concatenate([x, [edge[0], pair[0][0], pair[0][0], pair[1][0]]])
    truth_y = np.concatenate([y, [edge[1], pair[0][1], pair[0][1], pair[1][1]]])
    truth_f = np.concatenate([flux, [edge[2], pair[0][2] + pair[1][2], pair[0][2], pair[1][2]]])
    return {
        "image": image, "variance": variance, "mask": mask, "model": model, "footprints": footprints,
        "x": truth_x, "y": truth_y, "flux": truth_f, "n_grid": n, "galaxy": galaxy,
        "shape_xx": np.where(galaxy, psf_xx + gal_m, psf_xx),
        "shape_yy": np.where(galaxy, psf_xx + 0.6 * gal_m, psf_xx), "shape_xy": np.where(galaxy, 1.0, 0.0),
    }  # fmt: skip


def new_catalog(meas: SingleFrameMeasurement, n_grid: int) -> SourceCatalog:
    catalog = SourceCatalog(meas.schema, n_grid + 4)
    catalog["id"] = np.arange(1, n_grid + 5)
    parent_id = n_grid + 2
    catalog["parent"][n_grid + 2 :] = parent_id  # rows: grid, edge star, parent, two children
    return catalog


def run_field(psf: Psf, seed: int, **config: object) -> tuple[SingleFrameMeasurement, SourceCatalog, dict]:
    sim = simulate(psf, seed)
    meas = SingleFrameMeasurement(config=SingleFrameMeasurementConfig(**config))
    catalog = new_catalog(meas, sim["n_grid"])
    original = sim["image"].copy()
    meas.run(
        catalog,
        sim["image"],
        footprints=sim["footprints"],
        variance=sim["variance"],
        mask=sim["mask"],
        psf=psf,
    )
    np.testing.assert_array_equal(sim["image"], original)  # the input image is not modified
    return meas, catalog, sim


def pull(values: np.ndarray, truth: np.ndarray | float, err: np.ndarray) -> np.ndarray:
    return (values - truth) / err


def test_every_column_on_a_gaussian_psf_field() -> None:
    psf = GaussianPsf(SIGMA)
    meas, cat, sim = run_field(psf, 1)
    n = sim["n_grid"]
    stars = np.flatnonzero(~sim["galaxy"])
    stars = stars[stars > 1]  # rows 0 and 1 carry the SAT and CR pixels
    isolated = np.arange(n)
    good = np.concatenate([stars, np.flatnonzero(sim["galaxy"])])
    checked: set[str] = set()

    def use(*names: str) -> None:
        checked.update(names)

    # every float column is finite for the good isolated sources, every flag False
    for f in meas.fields():
        col = cat[f.name][good]
        if f.dtype.kind == "f":
            assert np.all(np.isfinite(col)), f.name
        elif f.dtype.kind == "b" and f.name != "extendedness":
            assert not col.any(), f.name
        assert f.doc, f.name
    # peaks
    np.testing.assert_array_equal(cat["peak_x"][:n], np.floor(sim["x"][:n] + 0.5))
    use("peak_x", "peak_y")
    # centroid: unbiased, errors match the scatter
    for axis in ("x", "y"):
        p = pull(cat[f"centroid_{axis}"][stars], sim[axis][stars], cat[f"centroid_{axis}_err"][stars])
        assert np.all(np.abs(p) < 5) and 0.6 < p.std() < 1.4, axis
        err = cat[f"centroid_{axis}_err"][isolated]
        assert np.all(
            np.abs(cat[f"centroid_{axis}"][isolated] - sim[axis][isolated]) < 5 * err
        )  # galaxies too
        assert np.all(np.abs(cat[f"shape_{axis}"][good] - sim[axis][good]) < 0.3)
    assert np.all(
        np.abs(cat["centroid_xy_cov"][stars]) < cat["centroid_x_err"][stars] * cat["centroid_y_err"][stars]
    )
    use(
        "centroid_x",
        "centroid_y",
        "centroid_x_err",
        "centroid_y_err",
        "centroid_xy_cov",
        "shape_x",
        "shape_y",
    )
    assert cat["slot_centroid_x"] is not None and np.array_equal(cat["slot_centroid_x"], cat["centroid_x"])
    # shape: Gaussian PSF and Gaussian galaxies have known moments
    for m in ("xx", "yy", "xy"):
        p = pull(cat[f"shape_{m}"][good], sim[f"shape_{m}"][good], cat[f"shape_{m}_err"][good])
        assert np.all(np.abs(p) < 5) and 0.6 < p.std() < 1.4, m
        use(f"shape_{m}", f"shape_{m}_err")
    np.testing.assert_allclose(cat["shape_psf_xx"][good], SIGMA**2, rtol=1e-5)
    np.testing.assert_allclose(cat["shape_psf_yy"][good], SIGMA**2, rtol=1e-5)
    np.testing.assert_allclose(cat["shape_psf_xy"][good], 0.0, atol=1e-6)
    p = pull(cat["shape_flux"][good], sim["flux"][good], cat["shape_flux_err"][good])
    assert np.all(np.abs(p) < 5)
    assert np.all((cat["shape_n_iter"][good] >= 1) & (cat["shape_n_iter"][good] < 50))
    use("shape_psf_xx", "shape_psf_yy", "shape_psf_xy", "shape_flux", "shape_flux_err", "shape_n_iter")
    # pixel flags
    assert cat["pixel_flags_saturated"][0] and cat["pixel_flags_saturated_center"][0]
    assert cat["pixel_flags_cr"][1] and not cat["pixel_flags_cr_center"][1]
    edge_row = n
    assert cat["pixel_flags_edge"][edge_row] and not cat["pixel_flags_edge"][good].any()
    use(*(f.name for f in meas.fields() if f.name.startswith("pixel_flags")))
    # local background: the sky was subtracted exactly; the scatter is the sky noise
    p = pull(cat["local_background"][stars], 0.0, cat["local_background_err"][stars])
    assert np.all(np.abs(p) < 5)
    assert np.median(cat["local_background"][:n][sim["galaxy"]]) > 0  # galaxy wings reach the annulus
    np.testing.assert_allclose(np.median(cat["local_background_sigma"][good]), math.sqrt(SKY), rtol=0.1)
    assert np.all(cat["local_background_n_pixels"][good] > 400)
    use("local_background", "local_background_err", "local_background_sigma", "local_background_n_pixels")
    # aperture fluxes: compare with the same apertures on the noiseless model
    expected = aperture_fluxes(sim["model"], cat["centroid_x"][good], cat["centroid_y"][good], RADII).flux
    for k, r in enumerate(RADII):
        t = aperture_tag(r)
        p = pull(cat[f"ap_flux_{t}"][good], expected[:, k], cat[f"ap_flux_{t}_err"][good])
        assert np.all(np.abs(p) < 5) and p.std() < 1.5, t
        assert cat[f"ap_flux_{t}_flag_truncated"][edge_row] == (cat["centroid_x"][edge_row] - r < -0.5)
        use(f"ap_flux_{t}", f"ap_flux_{t}_err")
    # PSF flux: unbiased with unit pulls, chi2 per pixel about 1
    p = pull(cat["psf_flux"][stars], sim["flux"][stars], cat["psf_flux_err"][stars])
    assert np.all(np.abs(p) < 5) and 0.6 < p.std() < 1.4
    chi = cat["psf_flux_chi2"][stars] / (cat["psf_flux_n_pixels"][stars] - 1)
    assert np.median(chi) == pytest.approx(1.0, abs=0.1)
    assert np.all(cat["psf_flux_n_pixels"][stars] == psf.kernel_size**2)
    use("psf_flux", "psf_flux_err", "psf_flux_chi2", "psf_flux_n_pixels")
    # Gaussian flux on the PSF normalisation equals the star flux; extendedness splits stars and galaxies
    model_flux = cat["gaussian_flux"][stars] / cat["gaussian_flux_psf"][stars]
    p = pull(
        model_flux, sim["flux"][stars], cat["gaussian_flux_err"][stars] / cat["gaussian_flux_psf"][stars]
    )
    assert np.all(np.abs(p) < 5)
    assert np.all((cat["gaussian_flux_psf"][good] > 0.3) & (cat["gaussian_flux_psf"][good] <= 1.0))
    np.testing.assert_array_equal(cat["extendedness"][stars], 0.0)
    np.testing.assert_array_equal(cat["extendedness"][:n][sim["galaxy"]], 1.0)
    use("gaussian_flux", "gaussian_flux_err", "gaussian_flux_psf", "extendedness")
    # deblended children, measured with their neighbour replaced by noise
    for row in (n + 2, n + 3):
        assert abs(cat["centroid_x"][row] - sim["x"][row]) < 0.1
        assert abs(pull(cat["psf_flux"][row], sim["flux"][row], cat["psf_flux_err"][row])) < 5
    assert cat["psf_flux"][n + 1] > sim["flux"][n + 2]  # the parent holds both stars' light
    flags = {f.name for f in meas.fields() if f.dtype.kind == "b"}
    unchecked = {f.name for f in meas.fields()} - checked - flags
    assert not unchecked, unchecked


def test_noise_replacement_isolates_children() -> None:
    psf = GaussianPsf(SIGMA)
    _, with_noise, sim = run_field(psf, 2)
    _, without, _ = run_field(psf, 2, do_replace_with_noise=False)
    n = sim["n_grid"]
    rows = [n + 2, n + 3]
    good = abs(with_noise["psf_flux"][rows] - sim["flux"][rows]) / with_noise["psf_flux_err"][rows]
    bad = abs(without["psf_flux"][rows] - sim["flux"][rows]) / without["psf_flux_err"][rows]
    assert np.all(good < 5)
    assert np.all(bad > 10)  # without replacement the neighbour's light leaks into the fit
    # replacement does not change isolated sources beyond the noise
    iso = np.arange(n)
    d = (with_noise["psf_flux"][iso] - without["psf_flux"][iso]) / with_noise["psf_flux_err"][iso]
    assert np.all(np.abs(d) < 0.5)


def test_moffat_field_fluxes_and_classification() -> None:
    psf = MoffatPsf.from_fwhm(4.0, 3.0)
    _, cat, sim = run_field(psf, 3)
    stars = np.flatnonzero(~sim["galaxy"])
    stars = stars[stars > 1]
    p = pull(cat["psf_flux"][stars], sim["flux"][stars], cat["psf_flux_err"][stars])
    assert np.all(np.abs(p) < 5) and 0.6 < p.std() < 1.4
    assert abs(np.mean(cat["psf_flux"][stars] / sim["flux"][stars]) - 1) < 0.003
    for axis in ("x", "y"):
        p = pull(cat[f"centroid_{axis}"][stars], sim[axis][stars], cat[f"centroid_{axis}_err"][stars])
        assert np.all(np.abs(p) < 5) and 0.6 < p.std() < 1.4
    # At S/N ~ 100 the 1.5 % margin of the 0.985 threshold is ~1.5 sigma of the ratio's scatter,
    # so a few faint stars may be called extended (as in Rubin); bright ones never are.
    ext = cat["extendedness"][stars]
    bright = cat["psf_flux"][stars] / cat["psf_flux_err"][stars] > 150
    assert bright.sum() > 10 and not ext[bright].any()
    assert ext.mean() < 0.1
    np.testing.assert_array_equal(cat["extendedness"][: sim["n_grid"]][sim["galaxy"]], 1.0)


class _PeakValueConfig(Config):
    scale: float = 1.0


class _PeakValuePlugin(MeasurementPlugin):
    """A test plugin: the image value at the rounded centroid, vectorised."""

    name = "test_peak_value"
    ConfigClass = _PeakValueConfig
    execution_order = 3.0
    requires: ClassVar[tuple[str, ...]] = ("centroid",)
    config: _PeakValueConfig

    def fields(self) -> list[Field]:
        return [Field("test_peak_value", np.dtype(np.float64), "ct", "Image value at the centroid pixel")]

    def measure(self, catalog: SourceCatalog, data: MeasurementData, rows: np.ndarray) -> None:
        ix = np.floor(catalog["slot_centroid_x"][rows] + 0.5).astype(int) - data.xy0[0]
        iy = np.floor(catalog["slot_centroid_y"][rows] + 0.5).astype(int) - data.xy0[1]
        catalog["test_peak_value"][rows] = self.config.scale * data.image[iy, ix]


def test_registry_custom_plugins_and_errors() -> None:
    assert set(DEFAULT_PLUGINS) <= set(registered_plugins())
    assert registered_plugins()[0] == "centroid" and registered_plugins()[-1] == "extendedness"
    register_plugin(_PeakValuePlugin)
    register_plugin(_PeakValuePlugin)  # idempotent for the same class
    assert get_plugin_class("test_peak_value") is _PeakValuePlugin
    with pytest.raises(MeasurementError, match="already registered"):
        register_plugin(type("Other", (_PeakValuePlugin,), {}))
    with pytest.raises(MeasurementError, match="registered:"):
        get_plugin_class("no_such_plugin")
    image = np.zeros((40, 40))
    add_gaussian(image, 20.2, 19.7, 1e3, 3.0, 3.0)
    meas = SingleFrameMeasurement(
        ["test_peak_value", "centroid"],
        plugin_configs={"test_peak_value": _PeakValueConfig(scale=2.0)},
        config=SingleFrameMeasurementConfig(do_replace_with_noise=False),
    )
    assert [p.name for p in meas.plugins] == ["centroid", "test_peak_value"]  # execution order
    cat = SourceCatalog(meas.schema, 1)
    with pytest.raises(MeasurementError, match="config.sigma"):
        meas.run(cat, image, footprints=[circle_footprint(20, 20, 5)])
    meas.run(cat, image, footprints=[circle_footprint(20, 20, 5)], peaks=[[20.0, 20.0]], psf=GaussianPsf(1.5))
    assert cat["test_peak_value"][0] == pytest.approx(2.0 * image[20, 20])
    assert "test_peak_value_flag" in cat.schema
    with pytest.raises(MeasurementError, match="needs plugin 'centroid'"):
        SingleFrameMeasurement(["test_peak_value"])
    with pytest.raises(MeasurementError, match="not run"):
        SingleFrameMeasurement(["centroid"], plugin_configs={"shape": Config()})
    with pytest.raises(MeasurementError, match="needs a"):
        get_plugin_class("centroid")(_PeakValueConfig())
    meas = SingleFrameMeasurement()
    cat = SourceCatalog(meas.schema, 1)
    with pytest.raises(MeasurementError, match="need a PSF"):
        meas.run(cat, image, footprints=[circle_footprint(20, 20, 5)])
    with pytest.raises(MeasurementError, match="one per row"):
        meas.run(cat, image, footprints=[], psf=GaussianPsf(1.5))
    with pytest.raises(MeasurementError, match="no peak"):
        meas.run(cat, image, footprints=[Footprint.from_circle(20, 20, 5)], psf=GaussianPsf(1.5))


def test_layers_keep_measurement_regions_apart() -> None:
    rng = np.random.default_rng(5)
    lo = rng.integers(0, 2000, size=(3000, 2))
    size = rng.integers(0, 40, size=(3000, 2))
    boxes = np.concatenate([lo, lo + size], axis=1)
    boxes[7] = [5, 5, 4, 4]  # an empty footprint
    margin = 20
    layers = assign_layers(boxes, margin)
    assert layers[7] == 0
    for layer in range(layers.max() + 1):
        b = boxes[(layers == layer) & (boxes[:, 0] <= boxes[:, 2])]
        gx0, gy0, gx1, gy1 = b[:, 0] - margin, b[:, 1] - margin, b[:, 2] + margin, b[:, 3] + margin
        touch = (
            (gx0[:, None] <= b[None, :, 2]) & (gx1[:, None] >= b[None, :, 0])
            & (gy0[:, None] <= b[None, :, 3]) & (gy1[:, None] >= b[None, :, 1])
        )  # fmt: skip
        np.fill_diagonal(touch, False)
        assert not touch.any()
    assert layers.max() < 15  # about the local crowding, not the number of sources


def test_noise_replacer_round_trip() -> None:
    rng = np.random.default_rng(6)
    image = rng.normal(0.0, 3.0, size=(60, 60))
    fps = [Footprint.from_circle(20, 20, 6), Footprint.from_circle(40, 40, 6)]
    heavy = HeavyFootprint(fps[1], np.full(fps[1].area, 7.0))
    spans = FootprintSpans.from_footprints([fps[0], heavy])
    rep = NoiseReplacer(image, spans, seed=3)
    work = rep.image
    in0 = np.zeros(image.shape, dtype=bool)
    in0[fps[0].bbox.slices()] = fps[0].to_mask_array()
    in1 = np.zeros(image.shape, dtype=bool)
    in1[fps[1].bbox.slices()] = fps[1].to_mask_array()
    assert not np.any(work[in0] == image[in0])  # replaced by noise ...
    assert np.std(work[in0 | in1]) == pytest.approx(3.0, rel=0.2)  # ... of the measured level
    np.testing.assert_array_equal(work[~(in0 | in1)], image[~(in0 | in1)])
    noise = work.copy()
    rep.insert(np.array([0, 1]))
    np.testing.assert_array_equal(work[in0], image[in0])  # plain footprint: the original pixels
    assert np.all(work[in1] == 7.0)  # heavy footprint: its own values
    rep.remove(np.array([0, 1]))
    np.testing.assert_array_equal(work, noise)
    with pytest.raises(ValueError, match="variance"):
        NoiseReplacer(image, spans, source="variance")


def test_psf_moments_of_a_spatially_varying_psf_are_interpolated() -> None:
    g = np.arange(25) - 12.0
    r2 = g[None, :] ** 2 + g[:, None] ** 2
    narrow = np.exp(-r2 / (2 * 1.6**2))
    wide = np.exp(-r2 / (2 * 2.2**2))
    base = 0.5 * (narrow + wide)
    # degree-1 terms (1, x, y): the width grows along x
    basis = np.stack([base, 0.5 * (wide - narrow), np.zeros_like(base)])
    psf = PixelPsf(basis, 1, bbox=Box2I(0, 0, 1000, 1000))
    assert psf.is_spatially_varying
    x = np.array([10.0, 480.0, 990.0, 300.0])
    y = np.array([20.0, 500.0, 700.0, 950.0])
    xx, yy, xy = psf_shape_at(psf, x, y)
    for k in range(x.size):
        exact = psf.compute_shape(x[k], y[k])
        assert xx[k] == pytest.approx(exact[0], rel=5e-3)
        assert yy[k] == pytest.approx(exact[1], rel=5e-3)
        assert xy[k] == pytest.approx(exact[2], abs=5e-3 * exact[0])
    assert xx[2] > xx[0]  # wider at large x


def test_schema_units_slots_and_variance_noise() -> None:
    schema = Schema.minimal_source()
    meas = SingleFrameMeasurement(schema=schema, config=SingleFrameMeasurementConfig(noise_source="variance"))
    assert schema["centroid_x"].unit == "pix" and schema["shape_xx"].unit == "pix2"
    assert schema["psf_flux"].unit == "ct" and schema["ap_flux_4_5"].unit == "ct"
    assert schema.resolve("slot_centroid_x") == "centroid_x"
    assert schema.resolve("slot_shape_xx") == "shape_xx" and schema.resolve("slot_psf_flux") == "psf_flux"
    assert all(f.doc for f in schema)
    psf = GaussianPsf(SIGMA)
    sim = simulate(psf, 7)
    cat = new_catalog(meas, sim["n_grid"])
    meas.run(cat, sim["image"], footprints=sim["footprints"], variance=sim["variance"], psf=psf)
    assert cat["pixel_flags_flag"].all()  # no mask given: pixel flags unknown
    n = sim["n_grid"]
    for row in (n + 2, n + 3):
        assert abs(cat["psf_flux"][row] - sim["flux"][row]) < 5 * cat["psf_flux_err"][row]
    assert set(meas.timing) >= {"noise_replacement", *DEFAULT_PLUGINS}
    table = cat.to_astropy()
    assert str(table["shape_xx"].unit) == "pix2"
