# SPDX-License-Identifier: GPL-3.0-or-later
"""Registry fixtures: a fresh registry per test on SQLite, and on PostgreSQL when enabled.

PostgreSQL runs when ``CI=true`` or ``SKYSTACK_TEST_POSTGRES`` is set, against
``$SKYSTACK_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from skystack.butler import Registry

POSTGRES_URL = os.environ.get(
    "SKYSTACK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_enabled() -> bool:
    return os.environ.get("CI", "").lower() == "true" or bool(os.environ.get("SKYSTACK_TEST_POSTGRES"))


BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not postgres_enabled(), reason="set CI=true or SKYSTACK_TEST_POSTGRES=1"),
        ],
    ),
]


class RegistryFactory:
    """Makes registries (and reopens them) at one location of one backend."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend = backend
        if backend == "sqlite":
            self.url = str(tmp_path / "registry.sqlite3")
            self.namespace: str | None = None
        else:
            self.url = POSTGRES_URL
            self.namespace = f"test_{uuid.uuid4().hex[:12]}"
        self.opened: list[Registry] = []

    def create(self, **kwargs: object) -> Registry:
        registry = Registry.create(self.url, namespace=self.namespace, **kwargs)  # type: ignore[arg-type]
        self.opened.append(registry)
        return registry

    def open(self) -> Registry:
        registry = Registry.open(self.url, namespace=self.namespace)
        self.opened.append(registry)
        return registry

    def cleanup(self) -> None:
        for registry in self.opened:
            registry.close()
        if self.namespace is not None:
            import sqlalchemy as sa

            engine = sa.create_engine(self.url)
            with engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.namespace}" CASCADE'))
            engine.dispose()


@pytest.fixture(params=BACKENDS)
def registry_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RegistryFactory]:
    """A `RegistryFactory` for each backend."""
    factory = RegistryFactory(request.param, tmp_path)
    yield factory
    factory.cleanup()


@pytest.fixture
def registry(registry_factory: RegistryFactory) -> Registry:
    """A new, empty registry on each backend."""
    return registry_factory.create()


@pytest.fixture
def populated(registry: Registry) -> Registry:
    """A registry with instrument Cam (2 filters, 4 detectors, 10 exposures of 30 s one hour apart)."""
    populate(registry)
    return registry


def populate(registry: Registry) -> None:
    import astropy.units as u
    from astropy.time import Time

    from skystack.butler import Timespan

    registry.insert_dimension_records(
        "instrument", [{"name": "Cam", "visit_max": 10_000, "exposure_max": 10_000, "detector_max": 4}]
    )
    registry.insert_dimension_records(
        "physical_filter",
        [
            {"instrument": "Cam", "name": "Cam-r", "band": "r"},
            {"instrument": "Cam", "name": "Cam-g", "band": "g"},
        ],
    )
    registry.insert_dimension_records(
        "detector", [{"instrument": "Cam", "id": i, "full_name": f"S{i}"} for i in range(4)]
    )
    t0 = Time("2024-01-01T00:00:00", scale="tai")
    registry.insert_dimension_records(
        "exposure",
        [
            {
                "instrument": "Cam",
                "id": i,
                "physical_filter": "Cam-r" if i % 2 == 0 else "Cam-g",
                "exposure_time": 30.0,
                "timespan": Timespan(t0 + i * u.h, t0 + i * u.h + 30 * u.s),
            }
            for i in range(10)
        ],
    )


T0_ISO = "2024-01-01T00:00:00"

MakeRegistry = Callable[[], Registry]
