from __future__ import annotations

import shutil

import pytest

from guides.models import Step
from tests.factories import GuideFactory, StepFactory


@pytest.fixture(scope="session")
def _test_cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _own_file_cache(settings, _test_cache_dir):
    """Tests never write into the developer's var/cache (a running worker would flush it)."""
    default = settings.CACHES["default"]
    if default["BACKEND"].endswith("FileBasedCache"):
        settings.CACHES = {"default": {**default, "LOCATION": str(_test_cache_dir)}}


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """Tests run with DEBUG off but without collectstatic, so no hashed-name manifest exists."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def guide_with_steps(db):
    """A published English guide with a procedure, two alternatives and a last resort."""
    guide = GuideFactory(
        title="I can't change my payment card",
        summary="Cards get **rejected** for many reasons.",
        tags=["payment", "card"],
    )
    kinds = [
        Step.Kind.PROCEDURE,
        Step.Kind.ALTERNATIVE,
        Step.Kind.ALTERNATIVE,
        Step.Kind.LAST_RESORT,
    ]
    for position, kind in enumerate(kinds, start=1):
        StepFactory(guide=guide, position=position, kind=kind, title=f"{kind} {position}")
    return guide


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); .ci/run installs it")
    return path
