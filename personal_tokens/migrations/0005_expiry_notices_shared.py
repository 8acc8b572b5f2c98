"""The 7-day and day-of notices already sent move to the notices every token kind shares
(tokens_site.TokenExpiryNotice), so that no one is told twice; then the two columns go."""

import uuid

from django.db import migrations


def move_sent_notices(apps, schema_editor):
    PersonalAccessToken = apps.get_model("personal_tokens", "PersonalAccessToken")
    TokenExpiryNotice = apps.get_model("tokens_site", "TokenExpiryNotice")
    run = uuid.uuid4()
    notices = []
    for field, days in (("expiry_warning_sent_at", 7), ("expired_notice_sent_at", 0)):
        rows = PersonalAccessToken.objects.filter(**{f"{field}__isnull": False}).values_list(
            "pk", field, "user__bot"
        )
        for pk, sent_at, bot in rows.iterator():
            kind = "personal" if bot is None else "access"
            notices.append(
                TokenExpiryNotice(kind=kind, token_id=pk, days=days, run=run, sent_at=sent_at)
            )
    TokenExpiryNotice.objects.bulk_create(notices, batch_size=1000, ignore_conflicts=True)


def restore_sent_notices(apps, schema_editor):
    PersonalAccessToken = apps.get_model("personal_tokens", "PersonalAccessToken")
    TokenExpiryNotice = apps.get_model("tokens_site", "TokenExpiryNotice")
    for field, days in (("expiry_warning_sent_at", 7), ("expired_notice_sent_at", 0)):
        for notice in TokenExpiryNotice.objects.filter(kind__in=["personal", "access"], days=days):
            PersonalAccessToken.objects.filter(pk=notice.token_id).update(**{field: notice.sent_at})


class Migration(migrations.Migration):
    dependencies = [
        ("personal_tokens", "0004_token_revoked_at"),
        ("tokens_site", "0014_token_expiry_notice"),
    ]

    operations = [
        migrations.RunPython(move_sent_notices, restore_sent_notices),
        migrations.RemoveField(model_name="personalaccesstoken", name="expiry_warning_sent_at"),
        migrations.RemoveField(model_name="personalaccesstoken", name="expired_notice_sent_at"),
    ]
