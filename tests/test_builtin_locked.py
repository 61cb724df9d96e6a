"""The built-in catalogue serves only the versions its lock records; anything else needs an
explicit opt-in (``unlocked=True`` / ``--unlocked``) and every result then says so."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import koordrules
from koordrules import catalog as catalog_module
from koordrules.cli import main

ROOT = Path(__file__).resolve().parent.parent
SET = "helse-vest/anbefaling-3"
RECORD = {"has_coordinator": False, "expected_followup_months": 12, "lifelong_course": True,
          "situation_indicates_need": True, "involved_units": 3}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The shipped catalogue as an editor's working tree installs it: a new version 1.1.0
    of Anbefaling 3 that was never locked, and an edit to a locked version's file."""
    root = tmp_path / "criteria"
    shutil.copytree(ROOT / "criteria", root)
    base = root / "helse-vest" / "anbefaling-3.yaml"
    text = base.read_text(encoding="utf-8")
    new = text.replace("\nversion: 1.0.2", "\nversion: 1.1.0", 1).replace(
        "changelog:\n", "changelog:\n  - version: 1.1.0\n    changes: Utkast.\n", 1)
    (root / "helse-vest" / "anbefaling-3-1.1.0.yaml").write_text(new, encoding="utf-8")
    spinal = root / "helse-bergen" / "spinalenheten-1.0.0.yaml"
    spinal.write_text(spinal.read_text(encoding="utf-8") + "\nnotes: endret uten ny versjon\n",
                      encoding="utf-8")
    monkeypatch.setattr(catalog_module, "criteria_dir", lambda: root)
    catalog_module._builtin.cache_clear()
    yield root
    catalog_module._builtin.cache_clear()


def test_the_builtin_catalogue_serves_only_locked_versions(installed: Path) -> None:
    cat = koordrules.Catalog.builtin()
    assert set(cat.withheld) == {f"{SET}@1.1.0", "helse-bergen/spinalenheten@1.0.0"}
    assert cat.get(SET).version == "1.0.2"
    assert [cs.version for cs in cat.versions(SET)] == ["1.0.0", "1.0.1", "1.0.2"]
    with pytest.raises(koordrules.CatalogError) as info:
        cat.get(f"{SET}@1.1.0")
    assert info.value.code == "not_locked"
    assert "not in its lock" in info.value.message
    with pytest.raises(koordrules.CatalogError) as info:
        cat.get("helse-bergen/spinalenheten@1.0.0")
    assert info.value.code == "not_locked"
    result = koordrules.evaluate(cat.get(SET), RECORD)
    assert "unreviewed" not in json.loads(result.to_json())["criteria_set"]


def test_unlocked_is_an_opt_in_and_every_result_says_so(installed: Path) -> None:
    cat = koordrules.Catalog.builtin(unlocked=True)
    cs = cat.get(f"{SET}@1.1.0")
    assert cs.unreviewed and not cat.get(f"{SET}@1.0.0").unreviewed
    for result in (koordrules.evaluate(cs, RECORD, trace=True),
                   koordrules.compile(cs).evaluate(RECORD)):
        assert result.criteria_set.unreviewed
        stored = json.loads(result.to_json())["criteria_set"]
        assert stored["unreviewed"] is True
        assert koordrules.Result.from_json(result.to_json()).criteria_set.unreviewed


def test_cli_refuses_an_unlocked_version_unless_asked(installed: Path, tmp_path: Path) -> None:
    records = tmp_path / "r.json"
    records.write_text(json.dumps(RECORD), encoding="utf-8")
    code, out, err = run("eval", f"{SET}@1.1.0", str(records))
    assert (code, out) == (1, "")
    assert "not_locked" in err and "--unlocked" in err
    code, out, err = run("eval", "--unlocked", f"{SET}@1.1.0", str(records))
    assert code == 0, err
    assert json.loads(out)["criteria_set"]["unreviewed"] is True
    code, out, _ = run("explain", "--unlocked", f"{SET}@1.1.0", str(records))
    assert code == 0
    assert out.splitlines()[1] == "IKKE GJENNOMGÅTT: denne versjonen står ikke i låsefila"
    code, out, _ = run("explain", f"{SET}@1.0.0", str(records))
    assert code == 0 and "GJENNOMGÅTT" not in out
