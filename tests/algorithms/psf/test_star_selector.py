# SPDX-License-Identifier: GPL-3.0-or-later
"""PSF candidate selection: cuts, reason counts, the stellar locus and isolation."""

from __future__ import annotations

import numpy as np
import pytest
from psf_sim_scene import make_star_field, measure_catalog

from skystack.algorithms.psf import StarSelection, StarSelectorConfig, select_psf_candidates
from skystack.config import ConfigValidationError
from skystack.geom.box import Box2I


def _catalog(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A synthetic catalog whose every source has a known fate."""
    n_star, n_gal, n_cr = 80, 60, 10
    size = np.concatenate(
        [
            rng.normal(1.8, 0.02, n_star),  # stellar locus
            rng.uniform(2.4, 5.0, n_gal),  # galaxies
            rng.uniform(0.6, 0.9, n_cr),  # cosmic-ray-like, tight cluster below the locus
        ]
    )
    n = size.size
    gx, gy = np.meshgrid(np.arange(15), np.arange(15))
    x = (50.0 + 60.0 * gx.ravel()[:n]).astype(float)
    y = (50.0 + 60.0 * gy.ravel()[:n]).astype(float)
    flux = rng.uniform(2e4, 1e5, n)
    return {
        "x": x,
        "y": y,
        "flux": flux,
        "flux_err": np.full(n, 100.0),
        "ixx": size**2,
        "iyy": size**2,
        "ixy": np.zeros(n),
        "kind": np.repeat([0, 1, 2], [n_star, n_gal, n_cr]),
    }


def _select(arrays: dict[str, np.ndarray], **kwargs: object) -> StarSelection:
    columns = [arrays[k] for k in ("x", "y", "flux", "flux_err", "ixx", "iyy", "ixy")]
    return select_psf_candidates(*columns, **kwargs)  # type: ignore[arg-type]


def test_each_cut_rejects_what_it_should_and_counts_it() -> None:
    rng = np.random.default_rng(2)
    c = _catalog(rng)
    n = c["x"].size
    stars = np.flatnonzero(c["kind"] == 0)
    saturated = np.zeros(n, dtype=bool)
    saturated[stars[0]] = True
    c["flux"][stars[1]] = 30 * 100.0  # S/N 30 < 50
    c["ixx"][stars[2]] = np.nan
    c["x"][stars[3]], c["y"][stars[3]] = 3.0, 500.0  # near the bbox edge
    # A neighbour 8 px from star 4 brighter than 5 % of it; a faint one (1 %) near star 5 is harmless.
    extra_x = np.array([c["x"][stars[4]] + 8.0, c["x"][stars[5]] + 8.0])
    extra_y = np.array([c["y"][stars[4]], c["y"][stars[5]]])
    extra_flux = np.array([0.2, 0.01]) * c["flux"][stars[[4, 5]]]
    arrays = {k: c[k] for k in ("x", "y", "flux", "flux_err", "ixx", "iyy", "ixy")}
    arrays["x"] = np.concatenate([arrays["x"], extra_x])
    arrays["y"] = np.concatenate([arrays["y"], extra_y])
    arrays["flux"] = np.concatenate([arrays["flux"], extra_flux])
    arrays["flux_err"] = np.concatenate([arrays["flux_err"], [100.0, 100.0]])
    for k in ("ixx", "iyy"):
        arrays[k] = np.concatenate([arrays[k], [9.0, 9.0]])  # galaxy-sized, S/N < 50 anyway for the faint one
    arrays["ixy"] = np.concatenate([arrays["ixy"], [0.0, 0.0]])
    flags = {"saturated": np.concatenate([saturated, [False, False]])}
    config = StarSelectorConfig(border=10, isolation_radius=15.0)
    sel = _select(arrays, flags=flags, config=config, bbox=Box2I(0, 0, 1000, 1000))

    expected = np.zeros(n + 2, dtype=bool)
    expected[stars] = True
    expected[stars[:5]] = False
    assert sel.mask.tolist() == expected.tolist()
    assert sel.reasons == {
        "non_finite": 1,
        "saturated": 1,
        "signal_to_noise": 1 + 1,  # star 1 and the faint neighbour
        "size_range": 0,
        "border": 1,
        # Galaxies, the bright neighbour, and the cosmic rays: a cluster smaller than the stars' (the
        # one Rubin's smallest-cluster rule would take) but much less dense.
        "stellar_locus": 60 + 10 + 1,
        "not_isolated": 1,
    }
    assert sum(sel.reasons.values()) == n + 2 - sel.n_selected
    assert sel.locus_size == pytest.approx(1.8, abs=0.01)
    # The locus' 1.1 % scatter is below the 2 % floor of its width.
    assert sel.locus_width == pytest.approx(0.02 * sel.locus_size)


def test_size_range_and_automatic_isolation_radius() -> None:
    rng = np.random.default_rng(3)
    c = _catalog(rng)
    arrays = {k: c[k] for k in ("x", "y", "flux", "flux_err", "ixx", "iyy", "ixy")}
    # Cosmic rays below size_min never reach the locus search.
    sel = _select(arrays, config=StarSelectorConfig(size_min=1.0))
    assert sel.reasons["size_range"] == 10
    assert sel.mask.tolist() == (c["kind"] == 0).tolist()
    # Automatic isolation radius: 4 FWHM of the locus = 4 * 2.355 * 1.8 ≈ 17 px.
    star = np.flatnonzero(c["kind"] == 0)[7]
    for dist, isolated in ((15.0, False), (19.0, True)):
        more = {k: np.append(v, v[star]) for k, v in arrays.items()}
        more["x"][-1] += dist
        more["flux"][-1] = more["flux"][star]
        more["ixx"][-1] = more["iyy"][-1] = 25.0  # a galaxy: off the locus, but still a neighbour
        res = _select(more, config=StarSelectorConfig(size_min=1.0))
        assert bool(res.mask[star]) is isolated


def test_no_locus_and_bad_inputs() -> None:
    sel = select_psf_candidates(
        [1.0, 2.0], [1.0, 2.0], [1e5, 1e5], [1.0, 1.0], [4.0, 4.0], [4.0, 4.0], [0, 0]
    )
    assert not sel.mask.any() and sel.reasons["stellar_locus"] == 2 and np.isnan(sel.locus_size)
    empty = select_psf_candidates([], [], [], [], [], [], [])
    assert empty.mask.shape == (0,) and empty.n_selected == 0
    with pytest.raises(ValueError, match="flux has 1 values, expected 2"):
        select_psf_candidates([1.0, 2.0], [1.0, 2.0], [1.0], [1.0, 1.0], [4.0, 4.0], [4.0, 4.0], [0, 0])
    with pytest.raises(ValueError, match="flag 'sat' must be a boolean array"):
        select_psf_candidates([1.0], [1.0], [1.0], [1.0], [4.0], [4.0], [0], flags={"sat": np.array([1])})
    with pytest.raises(ValueError, match="clashes with a built-in cut"):
        select_psf_candidates(
            [1.0], [1.0], [1.0], [1.0], [4.0], [4.0], [0], flags={"border": np.array([True])}
        )
    with pytest.raises(ConfigValidationError, match="size_min"):
        StarSelectorConfig(size_min=5.0, size_max=4.0).check()


def test_selects_stars_not_galaxies_in_a_simulated_field() -> None:
    """Measured sources of a simulated field: point sources on the locus, isolated, none of the rest."""
    field = make_star_field(
        shape=(1024, 1024), n_stars=120, n_galaxies=80, n_faint=150, n_companions=15, seed=9
    )
    x, y, _, kind = field.all_sources()
    cat = measure_catalog(field.image, field.variance, x, y)
    sel = select_psf_candidates(
        cat.x, cat.y, cat.flux, cat.flux_err, cat.ixx, cat.iyy, cat.ixy, flags={"edge": cat.edge}
    )
    chosen = sel.mask
    assert not np.any(chosen & (kind == 1)), "a galaxy was selected"
    assert not np.any(chosen & (kind == 3)), "a star with a close companion's light was selected"
    hosts = np.zeros(kind.size, dtype=bool)
    hosts[field.companion_of] = True
    assert not np.any(chosen & hosts)
    # Bright stars without any source within 25 px are (almost) all selected.
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    np.fill_diagonal(d, np.inf)
    lonely = (kind == 0) & (d.min(axis=1) > 25.0)
    assert np.count_nonzero(chosen & lonely) >= 0.95 * np.count_nonzero(lonely)
    # The locus is the stars' size: the Moffat's adaptive-moment radius at FWHM 4-4.3 px.
    assert 1.85 < sel.locus_size < 2.1
