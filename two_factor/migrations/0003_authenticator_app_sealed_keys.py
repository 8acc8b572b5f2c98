"""AuthenticatorApp: django-otp's TOTP devices with their keys sealed. The keys stored in plain
hex before it are sealed here (and unsealed back to hex when migrating backwards)."""

import re
from binascii import hexlify, unhexlify

from django.db import migrations

from tokens_site.tokens import secret_decrypt
from two_factor.models import TOTP_KEY_CONTEXT, totp_key_seal

PLAIN_HEX = re.compile(r"[0-9a-fA-F]{2,80}")


def seal_plain_keys(apps, schema_editor):
    devices = apps.get_model("otp_totp", "TOTPDevice")
    for device in devices.objects.all():
        if PLAIN_HEX.fullmatch(device.key) and len(device.key) % 2 == 0:
            device.key = totp_key_seal(unhexlify(device.key))
            device.save(update_fields=["key"])


def unseal_keys(apps, schema_editor):
    devices = apps.get_model("otp_totp", "TOTPDevice")
    for device in devices.objects.all():
        if not PLAIN_HEX.fullmatch(device.key):
            device.key = hexlify(secret_decrypt(device.key, TOTP_KEY_CONTEXT)).decode()
            device.save(update_fields=["key"])


class Migration(migrations.Migration):
    dependencies = [
        ("otp_totp", "0003_add_timestamps"),
        ("two_factor", "0002_security_keys_and_grace"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuthenticatorApp",
            fields=[],
            options={"proxy": True, "indexes": [], "constraints": []},
            bases=("otp_totp.totpdevice",),
        ),
        migrations.RunPython(seal_plain_keys, unseal_keys),
    ]
