"""The ``postgres`` conformance target: the set's PostgreSQL query
(``to_sql(cs, dialect="postgres")``) run on a throw-away PostgreSQL server.

The server is started once per test run, on first use: ``initdb`` into a temporary folder
(trust authentication, UTF-8, the ``C`` locale, so text compares byte-wise as in the
interpreter), then ``pg_ctl start`` listening on a Unix socket in that folder only (no TCP port,
so it cannot clash with another server). PostgreSQL refuses to run as root, so when the tests
run as root (as CI does) the server runs as the ``postgres`` user (made by the Debian package)
or else ``nobody``, through ``runuser``. It is stopped and removed when the run ends.

``server_binaries()`` finds ``initdb``/``pg_ctl`` on the path or under
``/usr/lib/postgresql/*/bin``; ``usable()`` says whether the server started (the target is
left out, not failed, when it cannot: no binaries, no psycopg, no way to drop root).

Each evaluation validates the records as every batch backend does
(:func:`koordrules.backends.arrow.prepare`), loads them into a temporary table ``records``
(one typed column per input) inside one transaction, runs the query and rolls back. The rows
come back in input order: the query is one sequential scan of a freshly filled temporary
table (its CTEs are used once, so PostgreSQL inlines them; temporary tables are never scanned
in parallel) with no join, sort or grouping. An error of the server is translated as
``evaluate_batch`` translates a backend's error (:class:`~koordrules.errors.BackendError`,
naming only its kind), so a case the server cannot do is a typed error, never an answer.
"""

from __future__ import annotations

import atexit
import functools
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from koordrules import ast
from koordrules.compiler import Program
from koordrules.errors import BackendError

_SCALAR = {"boolean": "BOOLEAN", "integer": "BIGINT", "number": "DOUBLE PRECISION",
           "string": "TEXT", "enum": "TEXT", "date": "DATE"}


def server_binaries() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or ``None``."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for folder in candidates:
        if all((folder / b).is_file() for b in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _user() -> str | None:
    """The user the server runs as when we are root (``None``: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root and no user to run PostgreSQL as")


@functools.cache
def server() -> str:
    """Start the server; its socket folder (the ``host`` to connect to)."""
    binaries = server_binaries()
    if binaries is None:
        raise RuntimeError("no PostgreSQL server binaries")
    user = _user()
    if user is not None and shutil.which("runuser") is None:
        raise RuntimeError("running as root without runuser")
    base = Path(tempfile.mkdtemp(prefix="koordrules-pg-"))
    data, log = base / "data", base / "server.log"
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    prefix = ["runuser", "-u", user, "--"] if user is not None else []

    def call(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120,
                       cwd=base)

    try:
        call(str(binaries / "initdb"), "-D", str(data), "-U", "koordrules", "--auth=trust",
             "--encoding=UTF8", "--locale=C", "--no-sync")
        options = f"-c listen_addresses='' -k {base} -c fsync=off -c full_page_writes=off"
        call(str(binaries / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(data),
             "-l", str(log), "-o", options)
    except (subprocess.SubprocessError, OSError):
        shutil.rmtree(base, ignore_errors=True)
        raise

    def stop() -> None:
        subprocess.run([*prefix, str(binaries / "pg_ctl"), "stop", "-m", "immediate", "-D",
                        str(data)], capture_output=True, timeout=60, check=False, cwd=base)
        shutil.rmtree(base, ignore_errors=True)

    atexit.register(stop)
    return str(base)


def usable() -> bool:
    """psycopg installed, server binaries found and the server started. With
    ``KOORDRULES_POSTGRES=1`` a server that cannot start is an error instead."""
    wanted = os.environ.get("KOORDRULES_POSTGRES") == "1"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        if wanted:
            raise
        return False
    if server_binaries() is None and not wanted:
        return False
    try:
        connection()
    except Exception:  # no server: leave the target out
        if wanted:
            raise
        return False
    return True


@functools.cache
def connection() -> Any:
    import psycopg

    return psycopg.connect(host=server(), user="koordrules", dbname="postgres",
                           autocommit=False)


def column_type(decl: ast.InputDecl) -> str:
    if decl.type == "list":
        return _SCALAR[decl.items or "string"] + "[]"
    return _SCALAR[decl.type]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def evaluate(program: Program, data: Any, *, strict: bool = True) -> list[dict[str, Any]]:
    """The rows the PostgreSQL query gives for ``data``, in input order."""
    import psycopg

    from koordrules.backends.arrow import prepare
    from koordrules.backends.sql import to_sql

    cs = program.criteria_set
    sql = to_sql(cs, dialect="postgres", table="records", pretty=False)
    table = prepare(program, data, strict=strict)
    names = [d.name for d in cs.inputs]
    columns = ", ".join(f"{_quote(d.name)} {column_type(d)}" for d in cs.inputs)
    create = f"CREATE TEMP TABLE records ({columns})"
    insert = (f"INSERT INTO records ({', '.join(_quote(n) for n in names)}) "
              f"VALUES ({', '.join(['%s'] * len(names))})") if names \
        else "INSERT INTO records DEFAULT VALUES"
    rows = [tuple(record[k] for k in names) for record in table.to_pylist()]
    con = connection()
    try:
        with con.cursor() as cur:
            cur.execute(create)
            if rows and names:
                cur.executemany(insert, rows)
            for _ in rows if not names else ():
                cur.execute(insert)
            cur.execute(sql)
            described = [c.name for c in cur.description or ()]
            result = [dict(zip(described, r, strict=True)) for r in cur.fetchall()]
    except psycopg.Error as ex:
        raise BackendError(f"the postgres query failed on this data ({type(ex).__name__}); "
                           "the values are not shown") from None
    finally:
        con.rollback()
    for r in result:
        r["missing"] = list(r["missing"] or [])
    return result
