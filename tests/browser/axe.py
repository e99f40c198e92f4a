"""The accessibility audit of the browser tests: axe-core 4 run inside the page.

axe-core is a test dependency from npm (``tests/browser/package.json``, installed by
``operate/bootstrap.sh`` with ``npm ci``), read from ``node_modules`` here and evaluated
through the DevTools protocol, so the app's Content-Security-Policy stays as strict as
in production (no inline script is added to the page) and nothing is downloaded at run
time. A page fails on any *serious* or *critical* violation.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from playwright.async_api import Page

from infra.settings import REPO_ROOT

AXE = REPO_ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
FAILING = ("serious", "critical")

_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + n.failureSummary),
  }));
}"""


@cache
def _source() -> str:
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `make bootstrap` (npm ci in tests/browser)")
    return AXE.read_text(encoding="utf-8")


async def violations(page: Page) -> list[dict[str, Any]]:
    """Every axe violation on the page as it is now."""
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.evaluate(f"() => {{ {_source()}\n;window.axe = axe; }}")
    found: list[dict[str, Any]] = await page.evaluate(_RUN)
    return found


async def audit(page: Page, name: str) -> list[dict[str, Any]]:
    """Fail the test naming each serious or critical violation on ``name``'s page;
    returns the minor and moderate ones (reported, not failing)."""
    found = await violations(page)
    bad = [v for v in found if v["impact"] in FAILING]
    assert not bad, f"accessibility violations on the {name} page:\n" + "\n".join(
        f"  {v['impact']} {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"])
        for v in bad)
    return [v for v in found if v["impact"] not in FAILING]
