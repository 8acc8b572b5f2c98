"""Which expiry notices were sent, for every token kind (tokens_site.expiry_notices).

One row per token and warning stage (60, 30 or 7 days before expiry, or 0: on the day). The
unique constraint is what makes a notice go out once, also across runs at the same time: a run
claims a notice by inserting its row, and only the run whose insert took sends it.
"""

from django.db import models
from django.utils import timezone


class TokenExpiryNotice(models.Model):
    kind = models.CharField(max_length=32)  # a NoticeKind's label: "personal", "deploy", ...
    token_id = models.BigIntegerField()
    days = models.PositiveSmallIntegerField()  # the stage: days before expiry, 0 on the day
    run = models.UUIDField()  # the run that claimed it
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "token_id", "days"], name="token_expiry_notice_once"
            )
        ]
        indexes = [models.Index(fields=["run"], name="token_expiry_notice_run")]

    def __str__(self) -> str:
        return f"{self.kind} token {self.token_id}: {self.days}-day notice"
