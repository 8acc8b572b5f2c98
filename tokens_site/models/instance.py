"""The instance's one row of settings, edited in the Django admin."""

import time
from datetime import date, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.validators import (
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
    URLValidator,
)
from django.db import models
from django.db.models import Q
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tokens_site.token_format import PREFIX_MAX_LENGTH
from tokens_site.tokens import PERSONAL_TOKEN_PREFIX, utc_today

# GitLab's range for the instance's maximum personal access token lifetime; also the longest
# lifetime of any token when the instance sets no maximum.
MAX_TOKEN_LIFETIME_LIMIT_DAYS = 365
# What every token form prefills.
DEFAULT_TOKEN_LIFETIME_DAYS = 30
# Messages with numbers, translated when shown (lazy, like gettext_lazy, with the number in).
LIFETIME_RANGE_MESSAGE = lazy(
    lambda: (
        gettext("Enter a number of days from 1 to %(max)s, or leave it empty for no limit.")
        % {"max": MAX_TOKEN_LIFETIME_LIMIT_DAYS}
    ),
    str,
)()

# GitLab's: 48 hours to set up two-factor authentication once it is required.
TWO_FACTOR_GRACE_PERIOD_HOURS = 48
TWO_FACTOR_GRACE_PERIOD_MAX_HOURS = 10_000
GRACE_RANGE_MESSAGE = lazy(
    lambda: (
        gettext("Enter a number of hours from 0 to %(max)s.")
        % {"max": TWO_FACTOR_GRACE_PERIOD_MAX_HOURS}
    ),
    str,
)()
# The longest a rotation may keep the old value working (tokens_site.rotation): 7 days.
MAX_ROTATION_OVERLAP_HOURS = 168
OVERLAP_RANGE_MESSAGE = lazy(
    lambda: (
        gettext("Enter a number of hours from 0 to %(max)s.") % {"max": MAX_ROTATION_OVERLAP_HOURS}
    ),
    str,
)()


def default_upstream() -> str:
    return settings.DEPENDENCY_PROXY_UPSTREAM_URL


class InstanceSettings(models.Model):
    """The instance's one row of settings, edited in the Django admin."""

    SINGLETON_ID = 1
    CACHE_KEY = "instance-settings:v1"
    # This process's copy and when it was read (time.monotonic()), for the request path.
    _memo: tuple["InstanceSettings", float] | None = None

    external_authorization_enabled = models.BooleanField(
        _("external authorization"),
        default=False,
        help_text=_("When on, deploy tokens are refused for Git, packages and the registry."),
    )
    git_password_authentication_enabled = models.BooleanField(
        _("password authentication for Git over HTTP"),
        default=True,
        help_text=_("When off, Git over HTTP accepts only tokens, never account passwords."),
    )
    require_token_expiry = models.BooleanField(
        _("require expiration dates"),
        default=True,
        help_text=_(
            "On (as GitLab 16+): a token made without a date (API, command, console) "
            "expires after the longest allowed lifetime, the maximum below or 365 days. Off: "
            "tokens without a date never expire. Existing tokens keep their dates."
        ),
    )
    max_rotation_overlap_hours = models.PositiveIntegerField(
        _("longest rotation overlap (hours)"),
        default=MAX_ROTATION_OVERLAP_HOURS,
        validators=[MaxValueValidator(MAX_ROTATION_OVERLAP_HOURS, OVERLAP_RANGE_MESSAGE)],
        help_text=lazy(
            lambda: (
                gettext(
                    "How long a rotation may keep the old value working (chosen per rotation, "
                    "none by default), at most %(max)s (7 days). 0: the old value stops at once."
                )
                % {"max": MAX_ROTATION_OVERLAP_HOURS}
            ),
            str,
        )(),
    )
    require_two_factor_authentication = models.BooleanField(
        _("require two-factor authentication for everyone"),
        default=False,
        help_text=_(
            "Every user must set up two-factor authentication: after the grace period, "
            "every page but the set-up and sign-out sends them there."
        ),
    )
    two_factor_grace_period = models.PositiveIntegerField(
        _("two-factor grace period (hours)"),
        default=TWO_FACTOR_GRACE_PERIOD_HOURS,
        validators=[MaxValueValidator(TWO_FACTOR_GRACE_PERIOD_MAX_HOURS, GRACE_RANGE_MESSAGE)],
        help_text=_(
            "How long a user may go on without it, reminded on every page, from the "
            "first page they see once it is required. 0: at once."
        ),
    )
    personal_access_token_max_lifetime_days = models.PositiveIntegerField(
        _("maximum personal access token lifetime (days)"),
        null=True,
        blank=True,
        validators=[
            MinValueValidator(1, LIFETIME_RANGE_MESSAGE),
            MaxValueValidator(MAX_TOKEN_LIFETIME_LIMIT_DAYS, LIFETIME_RANGE_MESSAGE),
        ],
        help_text=lazy(
            lambda: (
                gettext(
                    "Empty: no limit. When set (1 to %(max)s), every new token needs an expiry "
                    "date no later than today plus this many days."
                )
                % {"max": MAX_TOKEN_LIFETIME_LIMIT_DAYS}
            ),
            str,
        )(),
    )
    personal_access_token_prefix = models.CharField(
        max_length=PREFIX_MAX_LENGTH,
        default=PERSONAL_TOKEN_PREFIX,
        validators=[
            RegexValidator(
                r"\A[A-Za-z0-9_-]*-\Z",
                _("Use letters, digits, '_' and '-', ending in '-' (e.g. 'mycompany-glpat-')."),
            )
        ],
        help_text=_(
            "Prefix of new personal access tokens; tokens made with an earlier prefix keep working."
        ),
    )
    failed_auth_ban_enabled = models.BooleanField(
        _("ban IPs after failed authentication"), default=True
    )
    failed_auth_ban_limit = models.PositiveIntegerField(
        _("failed attempts before a ban"),
        default=30,
        validators=[
            MinValueValidator(1, _("Enter at least 1. To never ban an address, turn the ban off."))
        ],
    )
    failed_auth_ban_period_seconds = models.PositiveIntegerField(
        _("within this many seconds"),
        default=180,
        validators=[MinValueValidator(1, _("Enter at least 1 second."))],
    )
    failed_auth_ban_duration_seconds = models.PositiveIntegerField(
        _("ban duration (seconds)"),
        default=3600,
        validators=[
            MinValueValidator(
                1, _("Enter at least 1 second. To never ban an address, turn the ban off.")
            )
        ],
    )
    package_file_max_size_mb = models.PositiveIntegerField(
        _("largest package file (MiB)"),
        default=1024,
        help_text=_("Uploads to the package registry larger than this are refused."),
    )
    package_duplicates_allowed = models.BooleanField(
        _("allow duplicate package versions"),
        default=False,
        help_text=_(
            "Publishing an npm or NuGet version that already exists replaces it. Off: "
            "it is refused (npm: 403, NuGet: 409)."
        ),
    )
    git_push_max_size_mb = models.PositiveIntegerField(
        _("largest Git push (MiB)"),
        default=1024,
        validators=[MinValueValidator(1, _("Enter at least 1 MiB."))],
        help_text=_(
            "A push whose pack is larger than this is refused (git's receive.maxInputSize)."
        ),
    )
    git_advertisement_cache_enabled = models.BooleanField(
        _("cache Git ref advertisements"),
        default=True,
        help_text=_(
            "Answer info/refs and ls-refs from a cache kept under the repositories' directory "
            "(until a ref changes) instead of starting git for each."
        ),
    )
    git_advertisement_cache_max_mb = models.PositiveIntegerField(
        _("Git ref advertisement cache size (MiB)"),
        default=64,
        validators=[MinValueValidator(1, _("Enter at least 1 MiB."))],
        help_text=_("The least recently used advertisements are removed beyond this."),
    )
    git_pack_cache_enabled = models.BooleanField(
        _("cache Git packs"),
        default=True,
        help_text=_(
            "Clones and fetches asking for the same commits share one pack: written once while "
            "the first client receives it, until a ref changes. Not for shallow or partial "
            "clones."
        ),
    )
    git_pack_cache_max_mb = models.PositiveIntegerField(
        _("Git pack cache size (MiB)"),
        default=10240,
        validators=[MinValueValidator(1, _("Enter at least 1 MiB."))],
        help_text=_("The least recently used packs are removed beyond this."),
    )
    lfs_object_max_size_mb = models.PositiveIntegerField(
        _("largest Git LFS object (MiB)"),
        default=1024,
        validators=[MinValueValidator(1, _("Enter at least 1 MiB."))],
        help_text=_("A Git LFS object larger than this is refused."),
    )
    dependency_proxy_upstream_url = models.CharField(
        _("dependency proxy upstream"),
        max_length=1024,
        validators=[URLValidator(schemes=["http", "https"])],
        default=default_upstream,
        help_text=_(
            "The registry the dependency proxy pulls images from (Docker Hub unless the "
            "environment's DEPENDENCY_PROXY_UPSTREAM_URL says otherwise). Credentials for it: "
            "DEPENDENCY_PROXY_UPSTREAM_USERNAME and _PASSWORD in the environment."
        ),
    )
    secret_push_protection_enabled = models.BooleanField(
        _("secret push protection"),
        default=True,
        help_text=_(
            "Refuse a Git push whose added files hold one of this instance's tokens "
            "(files up to 1 MiB, not binary). `git push -o secret_push_protection.skip_all` "
            "skips it, recorded in the audit log."
        ),
    )
    secret_push_protection_third_party = models.BooleanField(
        _("also other services' secrets"),
        default=False,
        help_text=_(
            "Push protection also refuses GitHub tokens, AWS access key IDs and private keys."
        ),
    )

    class Meta:
        verbose_name = _("instance settings")
        verbose_name_plural = _("instance settings")
        # The validators above, kept by the database too: a lifetime beyond the range would
        # overflow date arithmetic, a 0 limit would ban on the first failure, a 0 duration
        # would never ban.
        constraints = [
            models.CheckConstraint(
                condition=Q(personal_access_token_max_lifetime_days__isnull=True)
                | Q(
                    personal_access_token_max_lifetime_days__gte=1,
                    personal_access_token_max_lifetime_days__lte=MAX_TOKEN_LIFETIME_LIMIT_DAYS,
                ),
                name="instancesettings_token_lifetime_in_range",
                violation_error_message=LIFETIME_RANGE_MESSAGE,
            ),
            models.CheckConstraint(
                condition=Q(max_rotation_overlap_hours__lte=MAX_ROTATION_OVERLAP_HOURS),
                name="instancesettings_rotation_overlap_in_range",
            ),
            models.CheckConstraint(
                condition=Q(failed_auth_ban_limit__gte=1),
                name="instancesettings_ban_limit_positive",
            ),
            models.CheckConstraint(
                condition=Q(failed_auth_ban_period_seconds__gte=1),
                name="instancesettings_ban_period_positive",
            ),
            models.CheckConstraint(
                condition=Q(failed_auth_ban_duration_seconds__gte=1),
                name="instancesettings_ban_duration_positive",
            ),
            models.CheckConstraint(
                condition=Q(git_push_max_size_mb__gte=1),
                name="instancesettings_git_push_max_size_positive",
            ),
            models.CheckConstraint(
                condition=Q(git_advertisement_cache_max_mb__gte=1, git_pack_cache_max_mb__gte=1),
                name="instancesettings_git_cache_sizes_positive",
            ),
        ]

    def __str__(self) -> str:
        return "Instance settings"

    def save(self, *args, **kwargs) -> None:
        self.pk = self.SINGLETON_ID
        super().save(*args, **kwargs)
        cache.delete(self.CACHE_KEY)
        InstanceSettings.forget()

    def longest_token_lifetime_days(self) -> int:
        """The longest lifetime a new token may have: the maximum set here, or a year."""
        return self.personal_access_token_max_lifetime_days or MAX_TOKEN_LIFETIME_LIMIT_DAYS

    def default_token_expiry(self) -> date | None:
        """The expiry of a token made without a date: the longest lifetime from today while
        expiration dates are required, else none (it never expires)."""
        if not self.require_token_expiry:
            return None
        return utc_today() + timedelta(days=self.longest_token_lifetime_days())

    def default_form_expiry(self) -> date:
        """What the token forms prefill: 30 days, or less if the maximum is shorter."""
        days = min(DEFAULT_TOKEN_LIFETIME_DAYS, self.longest_token_lifetime_days())
        return utc_today() + timedelta(days=days)

    @classmethod
    def current(cls) -> "InstanceSettings":
        """The settings row: this process's copy if younger than
        INSTANCE_SETTINGS_CACHE_SECONDS, else the shared cache's, else the database's. A change
        reaches every server process within that many seconds, and most requests pay nothing."""
        now = time.monotonic()
        if cls._memo is not None and now - cls._memo[1] < settings.INSTANCE_SETTINGS_CACHE_SECONDS:
            return cls._memo[0]
        found = cache.get(cls.CACHE_KEY)
        if found is None:
            found, _ = cls.objects.get_or_create(pk=cls.SINGLETON_ID)
            cache.set(cls.CACHE_KEY, found, timeout=None)
        cls._memo = (found, now)
        return found

    @classmethod
    def forget(cls) -> None:
        """Drop this process's copy (the next current() reads the shared one)."""
        cls._memo = None
