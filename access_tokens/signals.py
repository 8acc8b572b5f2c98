"""When a project or group is deleted, its access tokens stop for good: each is revoked (with
its audit event) and its bot blocked, before the rows go. The bot stays a bot (its Bot row
loses its project or group, see tokens_site.models.bots), so it can never pass for a person,
and unblocking it brings no token back."""

from django.contrib.auth import get_user_model
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from personal_tokens.models import PersonalAccessToken
from tokens_site.models import Bot, Group, Project


@receiver(pre_delete, sender=Project)
@receiver(pre_delete, sender=Group)
def stop_the_sources_tokens(sender, instance, **kwargs) -> None:
    field = "project" if sender is Project else "group"
    bots = list(Bot.objects.filter(**{field: instance}).values_list("user_id", flat=True))
    if not bots:
        return
    for token in PersonalAccessToken.objects.filter(user_id__in=bots).active():
        token.revoke()
    get_user_model().objects.filter(pk__in=bots).update(is_active=False)
