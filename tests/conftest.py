from __future__ import annotations

import contextlib

import pytest

from guides.models import Step
from tests.factories import GuideFactory, StepFactory

# The cast every test may ask for: billing, returns, alice, bob, karim, emma, sue, ann, desk.
pytest_plugins = ["tests.personas"]


@pytest.fixture(scope="session", autouse=True)
def _own_broker(tmp_path_factory):
    """This run's own broker: a fresh file-system broker folder, or the configured Redis
    database emptied. Messages left by another run name attempt ids that mean other rows in
    this run's database; a worker started by a test must never see them."""
    from django.conf import settings

    from helpdesk.celery import app

    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        folder = tmp_path_factory.mktemp("broker")
        for key, sub in [
            ("data_folder_in", "queue"),
            ("data_folder_out", "queue"),
            ("processed_folder", "processed"),
            ("control_folder", "control"),
        ]:
            (folder / sub).mkdir(exist_ok=True)
            options[key] = str(folder / sub)
        # Before any connection exists: every publish of the run goes to this folder.
        app.conf.broker_transport_options = options
        return
    try:
        app.control.purge()
    except Exception as exc:  # an unreachable broker: the tests that need it say so
        print(f"could not purge the test broker: {exc}")


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
def _default_language():
    """Each test starts in the default language. LocaleMiddleware activates a request's
    language in the thread that serves it, the test's own with Django's test client, and
    nothing deactivates it: an Arabic request would leave the rest of this worker's tests
    reading Arabic messages."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _no_guide_pages_kept():
    """Each test starts with no guide page kept by this process: the test database rolls back
    under them, which no edit announces (guides.page_cache)."""
    from guides.page_cache import guide_pages_forget

    guide_pages_forget()


@pytest.fixture(autouse=True)
def _no_escalation_wake_up_pending(_own_file_cache):
    """Each test's first escalation wakes the workers: a wake-up key left by an earlier test
    (whose broker, worker or database are gone) would have it wait for a task never sent."""
    from django.core.cache import cache

    from tickets.tasks import ESCALATION_WAKE_UP_KEY

    with contextlib.suppress(Exception):  # a cache outage's test: it starts without a key
        cache.delete(ESCALATION_WAKE_UP_KEY)


@pytest.fixture(autouse=True)
def _broker_emptied_around_workers(request):
    """A test that starts a Celery worker (marked ``worker``) sees its own tasks only. Tests
    stop their worker once what they check is done, maybe with tasks still queued (e-mails,
    wake-ups sent while a cache was down): they must not reach the next such test's worker.
    The queues are this test process's own (a broker key prefix or folder per xdist worker)."""
    if request.node.get_closest_marker("worker") is None:
        yield
        return
    from helpdesk.celery import app

    app.control.purge()
    yield
    app.control.purge()


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


@pytest.fixture(autouse=True)
def _no_search_words_kept():
    """Each test starts with no spelling vocabulary kept by this process: the test database
    rolls back under it, which no index change announces (guides.spelling)."""
    from guides.spelling import search_words_forget

    search_words_forget()
