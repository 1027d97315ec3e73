"""What every customer page must pass in a real browser, at a phone's size and a desktop's:
no horizontal scroll, tap targets a thumb can hit, and no serious or critical axe-core
violation. ``page_checked`` runs all three and keeps a screenshot to look at.

axe-core comes bundled with the axe-playwright-python package (a dev dependency); it is
evaluated in the page through the DevTools protocol, which the page's Content-Security-Policy
does not govern, so the policy stays as strict in tests as in production.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

from playwright.sync_api import Page

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}

# WCAG 2.5.5's target size; inline links in running text are exempt (as in WCAG 2.5.8).
MIN_TAP_TARGET_PX = 44
SCREENSHOTS = Path("var/test/screenshots")

_TAP_TARGETS = (
    "button, [role=button], a.button, header a, select, summary, textarea, "
    "input:not([type=hidden]):not([type=checkbox]):not([type=radio])"
)


@cache
def _axe_source() -> str:
    return (resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


def axe_serious_violations(page: Page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it stands (WCAG 2.x A and
    AA rules and axe's best practices), each with the selectors of its offending nodes."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    result = page.evaluate("async () => JSON.stringify(await axe.run(document))")
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in json.loads(result)["violations"]
        if violation["impact"] in {"serious", "critical"}
    ]


def horizontal_overflow_px(page: Page) -> int:
    """How far the page is wider than the viewport (0: no horizontal scroll)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def small_tap_targets(page: Page) -> list[str]:
    """Visible controls smaller than MIN_TAP_TARGET_PX in either direction, described."""
    return page.evaluate(
        """([selector, min]) => [...document.querySelectorAll(selector)]
            .filter(el => el.offsetParent !== null || getComputedStyle(el).position === 'fixed')
            .map(el => [el, el.getBoundingClientRect()])
            .filter(([el, box]) => box.width > 0 && box.height > 0
                && (box.width < min || box.height < min))
            .map(([el, box]) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}`
                + ` "${(el.innerText || el.value || el.name || '').trim().slice(0, 30)}"`
                + ` ${Math.round(box.width)}x${Math.round(box.height)}`)""",
        [_TAP_TARGETS, MIN_TAP_TARGET_PX],
    )


def page_checked(page: Page, label: str, *, tap_targets: bool = True) -> None:
    """Assert the three checks on the page as it stands, and keep a full-page screenshot
    under var/test/screenshots/<label>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{label}.png"), full_page=True)
    assert horizontal_overflow_px(page) <= 0, f"{label}: the page scrolls sideways"
    if tap_targets:
        assert small_tap_targets(page) == [], f"{label}: tap targets under 44 px"
    assert axe_serious_violations(page) == [], f"{label}: axe-core violations"


def watch_console(page: Page) -> list[str]:
    """The page's script errors from now on (console errors and uncaught exceptions), to
    assert empty at the end of a test."""
    problems: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems
