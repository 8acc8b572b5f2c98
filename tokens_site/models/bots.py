"""Bot users: the accounts project and group access tokens act as (access_tokens). A bot is a
member of its one project or group with the token's role, so every surface asks the access
policy about it as about anyone; what sets it apart is here: it never signs in, it is left out
of user pickers and of the "last Owner" rule, and it cannot make tokens."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Bot(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bot"
    )
    # Both empty once its project or group is deleted: the bot stays a bot, blocked
    # (tokens_site.signals), with its audit trail.
    project = models.ForeignKey(
        "tokens_site.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    group = models.ForeignKey(
        "tokens_site.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(group__isnull=True) | Q(project__isnull=True),
                name="bot_of_at_most_one_group_or_project",
            )
        ]

    def __str__(self) -> str:
        return f"bot {self.user_id} of {self.project or self.group}"

    @property
    def source(self):
        return self.project or self.group


def is_bot(user) -> bool:
    """Whether `user` is an access token's bot (one indexed query)."""
    if user is None or not user.is_authenticated:
        return False
    return Bot.objects.filter(user_id=user.pk).exists()
