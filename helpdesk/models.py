from __future__ import annotations

from django.db import models
from django.utils import timezone


class IdempotencyRecord(models.Model):
    """The first answer to an API POST sent with an ``Idempotency-Key``, replayed to retries
    that send the same key (see helpdesk.idempotency).

    Neither the caller nor the credential it sent is stored: ``scope_hash`` is an HMAC of
    them, so a record tells whose it is only to someone who presents the same credential.
    """

    scope_hash = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    # SHA-256 of the method, the path and the body: a retry must send the same request.
    request_fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_headers = models.JSONField(default=dict)
    response_body = models.BinaryField(default=b"")
    # The purge task deletes by age (helpdesk.idempotency.idempotency_records_purge).
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            # One answer per key and caller; concurrent requests with one key wait on this
            # index, and the losers replay the winner's answer.
            models.UniqueConstraint(fields=["scope_hash", "key"], name="idempotency_key_once"),
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.status_code}"
