"""The suite's settings: the production settings with one change.

Django's default PBKDF2 hasher is deliberately slow (over a second per password on a loaded
2-CPU machine), and the suite makes hundreds of users. Tests do not test hashing strength, so
every test, and every server or worker process a test starts (they inherit
``DJANGO_SETTINGS_MODULE``), hashes with MD5.
"""

from helpdesk.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
