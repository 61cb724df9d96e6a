"""The typed test application (tests/typing_app/typed_app.py) runs and gives the library's
answers; ``mypy --strict`` checks the same file in CI (pyproject ``[tool.mypy] files``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import koordrules

APP = Path(__file__).parent / "typing_app" / "typed_app.py"


def test_the_typed_application_uses_only_the_public_api_and_runs() -> None:
    text = APP.read_text(encoding="utf-8")
    assert "from koordrules." not in text and "import koordrules." not in text
    imported = text.split("from koordrules import (", 1)[1].split(")", 1)[0]
    names = {n.strip().rstrip(",") for n in imported.split() if n.strip()}
    assert names <= set(koordrules.__all__)
    spec = importlib.util.spec_from_file_location("typed_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = module.run()
    assert found["outcome"] == "coordinator_likely"
    assert found["held"] == ["A", "B", "C", "D"] and found["chosen"] == "coordinator_likely"
    assert found["rows"] == 2 and found["verified"] is True
    assert found["bad"] == [("involved_units", "bad_input_value")]
    assert found["missing_set"] == "not_found" and found["duplicate"] == "duplicate_id"
    assert found["cache_within_budget"] is True
