# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the ISR algorithms against analytic answers and Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest

from skystack.algorithms.isr import (
    IsrInputError,
    assemble_amplifiers,
    combine_clipped,
    combine_snaps,
    compute_variance,
    correct_nonlinearity,
    defect_mask,
    divide_flat,
    find_defects,
    grow_mask,
    interpolate_rows,
    level_mask,
    make_master_dark,
    make_master_flat,
    overscan_constant,
    overscan_per_row,
    overscan_poly_rows,
    overscan_spline_rows,
    readout_view,
    subtract_crosstalk,
    subtract_dark,
)
from skystack.geom import Box2I
from skystack.instruments import Amplifier, Detector


def make_detector(crosstalk: np.ndarray | None = None) -> Detector:
    """Four 20×30 amplifiers in a 2×2 layout with every combination of flips."""
    amps = []
    for k, (x0, y0) in enumerate([(0, 0), (30, 0), (0, 20), (30, 20)]):
        amps.append(
            Amplifier(
                name=f"A{k}",
                bbox=Box2I(x0, y0, 30, 20),
                gain=1.5 + 0.1 * k,
                read_noise=4.0 + k,
                saturation=60000.0,
                bias_level=1000.0,
                linearity_c2=-1e-7,
                flip_x=bool(k & 1),
                flip_y=bool(k & 2),
                prescan=3,
                serial_overscan=8,
            )
        )
    xt = np.zeros((4, 4)) if crosstalk is None else crosstalk
    return Detector(0, "D0", "S0", Box2I(0, 0, 60, 40), 0.01, (0.0, 0.0), 0.0, tuple(amps), xt)


# -- overscan -------------------------------------------------------------------------------------
def test_per_row_overscan_follows_row_jitter() -> None:
    rng = np.random.default_rng(1)
    rows = 1000 + rng.normal(0, 3, 200)
    data = rows[:, None] + rng.normal(0, 2, (200, 64))
    data[5, 3] = 1e5  # an outlier is clipped
    est = overscan_per_row(data)
    assert np.std(est - rows) == pytest.approx(2 / 8, rel=0.2)  # σ/√64
    assert abs(est[5] - rows[5]) < 1.5


def test_poly_rows_overscan_recovers_gradient_with_less_noise() -> None:
    rng = np.random.default_rng(2)
    y = np.arange(500)
    true = 900 + 0.02 * y
    data = true[:, None] + rng.normal(0, 5, (500, 16))
    data[100:103] += 500  # rows hit by something: rejected
    est = overscan_poly_rows(data, order=1)
    # end-point error of a straight-line fit to 500 rows of σ = 5/√16: 1.25 × √(4/500) ≈ 0.11
    assert np.max(np.abs(est - true)) < 0.6
    assert np.std(est - true) < 0.3
    assert np.std(overscan_per_row(data)[200:] - true[200:]) > 1.0


def test_spline_and_constant_overscan() -> None:
    rng = np.random.default_rng(3)
    y = np.arange(512)
    true = 1000 + 2 * np.sin(y / 80.0)
    data = true[:, None] + rng.normal(0, 3, (512, 32))
    spline = overscan_spline_rows(data, bin_rows=16)
    assert np.max(np.abs(spline - true)) < 0.6  # bins of 16 rows × 32 columns: σ ≈ 0.13
    assert np.std(spline - true) < 0.2
    const = overscan_constant(data, "median")
    assert const.shape == (512,) and np.all(const == const[0])
    assert overscan_constant(data, "mean_clipped")[0] == pytest.approx(true.mean(), abs=0.1)
    with pytest.raises(ValueError, match="statistic 'mode' is unknown"):
        overscan_constant(data, "mode")
    with pytest.raises(ValueError, match="order 600 must be in"):
        overscan_poly_rows(data, order=600)
    with pytest.raises(ValueError, match="needs >= 5 bins"):
        overscan_spline_rows(data[:40], bin_rows=16)
    with pytest.raises(ValueError, match="non-empty 2-d"):
        overscan_per_row(np.zeros((10, 0)))


# -- assembly and geometry ------------------------------------------------------------------------
def test_assembly_undoes_flips_and_checks_shapes() -> None:
    det = make_detector()
    truth = np.arange(40 * 60, dtype=float).reshape(40, 60)
    segments = {}
    for amp in det.amplifiers:
        seg = np.full(amp.raw_shape, -1.0)
        seg[amp.raw_data_bbox.slices()] = readout_view(truth, amp)
        segments[amp.name] = seg
    # readout order: the first pixel read of a flipped amplifier is its far corner
    assert segments["A1"][0, 3] == truth[0, 59] and segments["A3"][0, 3] == truth[39, 59]
    assert np.array_equal(assemble_amplifiers(segments, det), truth.astype(np.float32))
    segments["A2"] = segments["A2"][:, :-1]
    with pytest.raises(
        IsrInputError, match=r"amplifier A2 on detector D0 has shape \(20, 40\), expected \(20, 41\)"
    ):
        assemble_amplifiers(segments, det)


# -- crosstalk and linearity ----------------------------------------------------------------------
def test_crosstalk_removal_inverts_the_forward_model() -> None:
    rng = np.random.default_rng(4)
    xt = rng.uniform(1e-4, 5e-4, (4, 4))
    np.fill_diagonal(xt, 0)
    det = make_detector(xt)
    truth = rng.uniform(0, 50000, (40, 60)).astype(np.float32)
    observed = truth.copy()
    views = [readout_view(truth, a).copy() for a in det.amplifiers]
    for i, amp in enumerate(det.amplifiers):  # simulator convention: victim += C[i, j] source_j
        readout_view(observed, amp)[...] += sum(xt[i, j] * views[j] for j in range(4))
    assert np.max(np.abs(observed - truth)) > 20
    assert subtract_crosstalk(observed, det) == 12
    assert np.max(np.abs(observed - truth)) < 50000 * 4 * 5e-4**2 * 4 + 0.02  # second order + float32
    with pytest.raises(IsrInputError, match="does not match the 4 amplifiers"):
        subtract_crosstalk(observed, det, np.zeros((2, 2)))


@pytest.mark.parametrize("coeffs", [[-1.4e-7], [-1e-7, 2e-12], [0.0, -1e-12]])
def test_nonlinearity_round_trip(coeffs: list[float]) -> None:
    true = np.linspace(0, 60000, 1001)
    measured = true + sum(c * true ** (k + 2) for k, c in enumerate(coeffs))
    data = measured.copy()
    correct_nonlinearity(data, coeffs)
    assert np.max(np.abs(data - true)) < 1e-6 * 60000


def test_nonlinearity_errors() -> None:
    with pytest.raises(ValueError, match="no inverse above"):
        correct_nonlinearity(np.array([1e7]), [-1e-7])
    with pytest.raises(ValueError, match="floating-point"):
        correct_nonlinearity(np.array([1, 2]), [-1e-7])


# -- calibration, variance, masks -----------------------------------------------------------------
def test_dark_flat_and_errors() -> None:
    image = np.full((4, 5), 110.0, dtype=np.float32)
    subtract_dark(image, np.full((4, 5), 0.5), 20.0)
    assert np.allclose(image, 100.0)
    flat = np.full((4, 5), 2.0)
    flat[1, 1] = 0.0
    var = np.full((4, 5), 8.0, dtype=np.float32)
    bad = divide_flat(image, flat, var)
    assert bad.sum() == 1 and bad[1, 1]
    assert image[0, 0] == 50.0 and var[0, 0] == 2.0 and image[1, 1] == 100.0
    with pytest.raises(IsrInputError, match="dark time >= 0"):
        subtract_dark(image, np.zeros((4, 5)), -1.0)
    with pytest.raises(IsrInputError, match=r"step 'flat': the flat calibration has shape \(3, 3\)"):
        divide_flat(image, np.ones((3, 3)))


def test_variance_matches_monte_carlo() -> None:
    det = make_detector()
    rng = np.random.default_rng(5)
    signal = 400.0
    n = 4000
    amp = det.amplifiers[2]
    e = rng.poisson(signal, n) + rng.normal(0, amp.read_noise, n)
    image = np.full((40, 60), signal, dtype=np.float32)
    var_e = compute_variance(image, det, "electron")
    sl = amp.bbox.slices()
    assert var_e[sl][0, 0] == pytest.approx(np.var(e), rel=0.06)
    var_adu = compute_variance(image / np.float32(amp.gain), det, "adu")
    assert var_adu[sl][0, 0] == pytest.approx(np.var(e / amp.gain), rel=0.06)
    assert var_adu[sl][0, 0] * amp.gain**2 == pytest.approx(var_e[sl][0, 0], rel=1e-5)
    with pytest.raises(ValueError, match="units must be"):
        compute_variance(image, det, "photon")  # type: ignore[arg-type]


def test_masks() -> None:
    det = make_detector()
    raw = np.full((40, 60), 1000.0, dtype=np.float32)
    raw[10, 10] = 60000
    raw[30, 40] = 58000
    assert np.argwhere(level_mask(raw, det)).tolist() == [[10, 10]]
    assert level_mask(raw, det, 0.95).sum() == 2
    grown = grow_mask(level_mask(raw, det), along_columns=3)
    assert grown[7:14, 10].all() and grown.sum() == 7
    assert grow_mask(level_mask(raw, det), 0, 1).sum() == 9
    dm = defect_mask((40, 60), [Box2I(5, 0, 1, 40), Box2I(58, 38, 10, 10)])
    assert dm[:, 5].all() and dm.sum() == 40 + 4
    with pytest.raises(ValueError, match="growth must be >= 0"):
        grow_mask(dm, -1)


# -- interpolation --------------------------------------------------------------------------------
def test_interpolation_is_exact_on_planes() -> None:
    yy, xx = np.mgrid[0:50, 0:80]
    plane = (3.0 + 0.5 * xx + 0.2 * yy).astype(np.float32)
    image = plane.copy()
    mask = np.zeros(plane.shape, dtype=bool)
    mask[:, 20:23] = True  # a bad column triple
    mask[10, 70:] = True  # a run to the edge: takes the left level
    mask[40, :] = True  # a whole row: left alone
    image[mask] = 1e6
    assert interpolate_rows(image, mask, n_average=3) == 80
    rows = np.arange(50) != 40
    assert np.allclose(image[rows, 20:23], plane[rows, 20:23], atol=1e-4)
    assert np.allclose(image[10, 70:], np.mean(plane[10, 67:70]))
    assert np.all(image[40] == 1e6)
    with pytest.raises(ValueError, match="n_average must be >= 1"):
        interpolate_rows(image, mask, 0)


# -- snaps and masters ----------------------------------------------------------------------------
def test_snap_combination_rejects_a_cosmic_ray() -> None:
    rng = np.random.default_rng(6)
    truth = 500.0
    shape = (100, 100)
    var = np.full(shape, truth + 25.0, dtype=np.float32)
    a = (rng.poisson(truth, shape) + rng.normal(0, 5, shape)).astype(np.float32)
    b = (rng.poisson(truth, shape) + rng.normal(0, 5, shape)).astype(np.float32)
    b[50, 40:48] += 3000.0
    rejected = combine_snaps(a, var.copy(), b, var, n_sigma=5.0)
    assert rejected[50, 40:48].all()
    assert rejected.sum() < 8 + 30
    assert np.abs(a[50, 40:48] - 2 * truth).max() < 6 * np.sqrt(4 * (truth + 25))
    assert abs(a.mean() - 2 * truth) < 1.0


def test_master_combination() -> None:
    rng = np.random.default_rng(7)
    frames = [rng.normal(100, 5, (50, 50)) for _ in range(7)]
    frames[3][10, 10] = 10000.0  # cosmic ray in one frame
    combined = combine_clipped(frames)
    assert abs(combined[10, 10] - 100) < 10
    assert np.std(combined) == pytest.approx(5 / np.sqrt(7), rel=0.1)
    darks = [np.full((4, 4), 60.0), np.full((4, 4), 30.0)]
    assert np.allclose(make_master_dark(darks, [300.0, 150.0]), 0.2)
    flat_true = 1 + 0.1 * rng.standard_normal((40, 40))
    flats = [flat_true * 1e4, flat_true * 2e4]
    master = make_master_flat(flats)
    assert master.mean() == pytest.approx(1.0, rel=1e-5)
    assert np.allclose(master / flat_true, master[0, 0] / flat_true[0, 0], rtol=1e-5)
    with pytest.raises(ValueError, match="are these flats illuminated"):
        make_master_flat([np.zeros((4, 4))])
    with pytest.raises(ValueError, match="2 darks but 1 dark times"):
        make_master_dark(darks, [1.0])
    dark = np.abs(rng.normal(0.02, 0.01, (40, 40)))
    dark[5, 6] = 200.0
    flat = np.ones((40, 40))
    flat[:, 30] = 0.05
    defects = find_defects(dark, flat)
    assert defects[5, 6] and defects[:, 30].all() and defects.sum() == 41
    with pytest.raises(ValueError, match="needs a master dark"):
        find_defects()
