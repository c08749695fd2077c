# SPDX-License-Identifier: GPL-3.0-or-later
"""The repository configuration file ``<root>/butler.yaml``.

It names the registry database and the datastore settings. Database credentials are never
stored: `RepoConfig.write` removes the user name and password from the registry URL, and
`registry_url` adds them back when the repository is opened, from

1. ``SKYSTACK_DB_USER`` / ``SKYSTACK_DB_PASSWORD``, else
2. ``PGUSER`` / ``PGPASSWORD`` (libpq's own variables), else
3. the first matching line ``host:port:database:user:password`` of the file named by
   ``SKYSTACK_DB_AUTH_FILE`` or ``~/.pgpass`` (``*`` matches anything; the file should be
   readable only by its owner, as for libpq).

An SQLite registry inside the repository is stored as a path relative to the root, so the
repository folder can be moved.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CONFIG_FILE", "CONFIG_VERSION", "RepoConfig", "RepoConfigError"]

CONFIG_FILE = "butler.yaml"
CONFIG_VERSION = 1
"""Version of the ``butler.yaml`` layout; a newer one cannot be read."""


class RepoConfigError(ValueError):
    """A repository configuration is missing, malformed, or written by a newer skystack."""


def strip_credentials(url: str) -> str:
    """``url`` without user name and password (plain paths are returned unchanged)."""
    if "://" not in url:
        return url
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    bare = sa.URL.create(
        parsed.drivername, host=parsed.host, port=parsed.port, database=parsed.database, query=parsed.query
    )
    return bare.render_as_string(hide_password=False)


def _pgpass_lookup(host: str, port: str, database: str) -> tuple[str | None, str | None]:
    path = Path(os.environ.get("SKYSTACK_DB_AUTH_FILE", "~/.pgpass")).expanduser()
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None, None
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.replace("\\:", "\0").split(":")
        if len(parts) != 5:
            continue
        h, p, d, user, password = (x.replace("\0", ":") for x in parts)
        if all(pattern in ("*", value) for pattern, value in ((h, host), (p, port), (d, database))):
            return user or None, password or None
    return None, None


@dataclass
class RepoConfig:
    """Settings of one repository (the contents of ``butler.yaml``).

    Attributes
    ----------
    db : `str`
        Registry database: an SQLAlchemy URL without credentials, or an SQLite path (relative
        paths are relative to the repository root).
    namespace : `str` or `None`
        PostgreSQL schema of the registry tables.
    template : `str` or `None`
        Default datastore file template (`None`: the built-in default).
    templates : `dict` [`str`, `str`]
        Per-dataset-type templates.
    checksum : `bool`
        Record file checksums at put.
    fsync : `bool`
        ``fsync`` files before registering them.
    """

    db: str = "registry.sqlite3"
    namespace: str | None = None
    template: str | None = None
    templates: dict[str, str] = field(default_factory=dict)
    checksum: bool = False
    fsync: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The YAML mapping (credentials removed from ``db``)."""
        datastore: dict[str, Any] = {"checksum": self.checksum, "fsync": self.fsync}
        if self.template is not None:
            datastore["template"] = self.template
        if self.templates:
            datastore["templates"] = dict(self.templates)
        return {
            "version": CONFIG_VERSION,
            "registry": {"db": strip_credentials(self.db), "namespace": self.namespace},
            "datastore": datastore,
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> RepoConfig:
        """Build from a mapping written by `to_dict`.

        Raises
        ------
        RepoConfigError
            If it is not such a mapping or has a newer version.
        """
        if not isinstance(data, dict) or "registry" not in data:
            raise RepoConfigError(f"{source} is not a skystack repository configuration (no 'registry')")
        version = data.get("version", 0)
        if not isinstance(version, int) or version > CONFIG_VERSION:
            raise RepoConfigError(
                f"{source} has configuration version {version}, newer than this skystack reads "
                f"({CONFIG_VERSION}); upgrade skystack to open this repository"
            )
        registry = data["registry"] or {}
        datastore = data.get("datastore") or {}
        try:
            return cls(
                db=str(registry["db"]),
                namespace=registry.get("namespace"),
                template=datastore.get("template"),
                templates=dict(datastore.get("templates") or {}),
                checksum=bool(datastore.get("checksum", False)),
                fsync=bool(datastore.get("fsync", False)),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise RepoConfigError(f"{source} is malformed: {err}") from None

    def write(self, root: Path) -> None:
        """Write ``<root>/butler.yaml`` (atomically)."""
        import yaml

        path = root / CONFIG_FILE
        temporary = root / f".{CONFIG_FILE}.tmp"
        temporary.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        os.replace(temporary, path)

    @classmethod
    def read(cls, root: Path) -> RepoConfig:
        """Read ``<root>/butler.yaml``.

        Raises
        ------
        RepoConfigError
            If there is no such file (``root`` is not a repository) or it is invalid.
        """
        import yaml

        path = root / CONFIG_FILE
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise RepoConfigError(
                f"{root} is not a data repository (no {CONFIG_FILE}); create one with `butler create {root}`"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise RepoConfigError(f"{path} is not valid YAML: {err}") from None
        return cls.from_dict(data, str(path))

    def registry_url(self, root: Path) -> str:
        """The database URL to connect with: SQLite path resolved, credentials added from the
        environment or the user's password file (see the module docstring)."""
        if "://" not in self.db:
            path = Path(self.db).expanduser()
            return str(path if path.is_absolute() else root / path)
        import sqlalchemy as sa

        url = sa.make_url(self.db)
        if url.get_backend_name() == "sqlite":
            return self.db
        user = os.environ.get("SKYSTACK_DB_USER") or os.environ.get("PGUSER")
        password = os.environ.get("SKYSTACK_DB_PASSWORD") or os.environ.get("PGPASSWORD")
        if user is None or password is None:
            file_user, file_password = _pgpass_lookup(
                url.host or "localhost", str(url.port or 5432), url.database or ""
            )
            user = user or file_user
            if password is None and (user is None or file_user in (None, user)):
                password = file_password
        return url.set(username=user, password=password).render_as_string(hide_password=False)
