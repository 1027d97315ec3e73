"""The suite's settings: the production settings with a few changes for tests.

Django's default PBKDF2 hasher is deliberately slow (over a second per password on a loaded
2-CPU machine), and the suite makes hundreds of users. Tests do not test hashing strength, so
every test, and every server or worker process a test starts (they inherit
``DJANGO_SETTINGS_MODULE``), hashes with MD5.

Under pytest-xdist (``make test`` runs several workers) each worker is a process of its own
with its own SQLite file or PostgreSQL database (pytest-django and the pid in the SQLite test
name see to that), its own broker folder and file cache (tmp_path_factory, tests/conftest.py).
What would still be shared is the configured Redis: the same cache keys and the same broker
queues. So each worker prefixes its cache keys and every broker key with its worker id, and a
Celery worker process a test starts is handed that prefix (``TEST_BROKER_KEYPREFIX``, by
tests/processes.py ``configured_broker_env``): a worker started in gw0 never consumes gw1's
messages.
"""

import os

from helpdesk.settings import *  # noqa: F403
from helpdesk.settings import CACHES, CELERY_BROKER_TRANSPORT_OPTIONS, CELERY_BROKER_URL

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Set in the xdist worker processes only; tests/processes.py drops it from the environment of
# the processes tests start, which take the prefix explicitly instead.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")

# TEST_BROKER_KEYPREFIX: a whole run's own prefix (.ci/run), or what a started process is told.
_BROKER_KEYPREFIX = os.environ.get("TEST_BROKER_KEYPREFIX", "") + (
    f"{_XDIST_WORKER}:" if _XDIST_WORKER else ""
)
if _BROKER_KEYPREFIX and CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        "global_keyprefix": _BROKER_KEYPREFIX,
    }

if _XDIST_WORKER and CACHES["default"]["BACKEND"].endswith("RedisCache"):
    CACHES = {
        **CACHES,
        "default": {
            **CACHES["default"],
            "KEY_PREFIX": f"{CACHES['default']['KEY_PREFIX']}-{_XDIST_WORKER}",
        },
    }

# Attachments the tests store go to a folder of their own, never the developer's var/attachments
# (servers and workers a test starts read these settings too, so they share it).
if STORAGES["attachments"]["BACKEND"] == "helpdesk.storage.PrivateFileSystemStorage":  # noqa: F405
    STORAGES = {  # noqa: F405
        **STORAGES,  # noqa: F405
        "attachments": {
            **STORAGES["attachments"],  # noqa: F405
            "OPTIONS": {
                **STORAGES["attachments"]["OPTIONS"],  # noqa: F405
                "location": str(VAR_DIR / "test-attachments"),  # noqa: F405
            },
        },
    }
