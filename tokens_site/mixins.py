"""View mixins that resolve the group or project named in the URL for the current user.

A view declares the ability it needs with `required = Ability.<...>` (tokens_site.access); the
mixin answers 404 for what the user may not see (anonymous visitors are sent to sign in
instead, whether or not the thing exists) and 403 with `denied_message` (or the policy's own
reason) for what they may see but not do. Paths are found as everywhere, ignoring case.
"""

from datetime import UTC

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_variables

from tokens_site import rotation
from tokens_site.access.abilities import Ability
from tokens_site.access.policy import Access, group_access, project_access
from tokens_site.forms import apply_service_errors
from tokens_site.models import Group, Project
from tokens_site.models.tokens import RECENTLY_INACTIVE_DAYS, ROTATED_EXPIRY
from tokens_site.once import (
    FIELD_NAME,
    OnceKey,
    ShownOnce,
    once_key_issue,
    once_key_refusal,
    once_key_take,
)


class ScopedObjectMixin:
    required: Ability | None = None
    denied_message: str | None = None
    access: Access

    def resolve(self, request, full_path: str):
        raise NotImplementedError

    def dispatch(self, request, *args, full_path: str, **kwargs):
        try:
            self.resolve(request, full_path)
        except (Group.DoesNotExist, Project.DoesNotExist):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            raise Http404("Page not found") from None
        if self.required and not self.access.can(self.required):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            raise PermissionDenied(self.denied_message or self.access.refusal(self.required))
        return super().dispatch(request, *args, **kwargs)


class GroupMixin(ScopedObjectMixin):
    group: Group

    def resolve(self, request, full_path: str) -> None:
        self.group = Group.objects.visible_to(request.user).by_full_path(full_path).get()
        self.access = group_access(request.user, self.group)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(group=self.group, access=self.access, crumbs=self.group.ancestors())
        return context


class ProjectMixin(ScopedObjectMixin):
    project: Project

    def resolve(self, request, full_path: str) -> None:
        self.project = (
            Project.objects.visible_to(request.user)
            .select_related("group")
            .by_full_path(full_path)
            .get()
        )
        self.access = project_access(request.user, self.project)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            project=self.project, access=self.access, crumbs=self.project.group.ancestors()
        )
        return context


class TokenPageMixin:
    """The flows of a page that makes tokens shown once, revokes them and (where the kind
    allows) rotates them. A view supplies `noun` (translated), `page_url()`, `render_page()`,
    `create_token(form)`, `revoke_token(token)` and, to rotate, `rotate_token(token)`."""

    noun = gettext_lazy("token")

    def page_url(self) -> str:
        raise NotImplementedError

    def render_page(self, *, form=None, new_token=None, plaintext=None):
        raise NotImplementedError

    def create_token(self, form):
        raise NotImplementedError

    def revoke_token(self, token) -> None:
        raise NotImplementedError

    def rotate_token(self, token, *, overlap_hours):
        raise NotImplementedError

    def tables_context(self, tokens) -> dict:
        """What every token page's tables need, of `tokens` (the page's queryset): the active
        ones, the recently inactive ones, and what Rotate says and allows."""
        return {
            "active_tokens": list(tokens.current()),
            "inactive_tokens": list(tokens.recently_inactive()),
            "inactive_days": RECENTLY_INACTIVE_DAYS,
            "rotated_expiry": ROTATED_EXPIRY,
            "rotation_overlap_cap": rotation.overlap_cap(),
        }

    @sensitive_variables()
    def shown_once_context(self, *, new_token, plaintext) -> dict:
        """What every token page's context holds to show a value once: the form's single-use
        key, and the new token with its value (as ShownOnce, whose repr hides it)."""
        return {
            "form_once": once_key_issue(self.request),
            "form_once_field": FIELD_NAME,
            "new_token": new_token,
            "plaintext": ShownOnce(plaintext) if plaintext else None,
            # Where Reload and Back lead once the value is shown (site.js): the plain page.
            "shown_once_url": self.page_url(),
        }

    def claim_form(self) -> HttpResponseRedirect | None:
        """Claim the posted form's single-use key: None when this request may act on it, else
        the way back to the page, with why nothing was done."""
        state = once_key_take(self.request)
        if state is OnceKey.CLAIMED:
            return None
        messages.info(self.request, once_key_refusal(state, self.noun))
        return redirect(self.page_url())

    @sensitive_variables()
    def create_from(self, form):
        """Create from a valid form whose single-use key is unclaimed, and show the value in
        this one response; anything else shows the page without a value."""
        if not form.is_valid():
            return self.render_page(form=form)
        refused = self.claim_form()
        if refused is not None:
            return refused
        try:
            token, plaintext = self.create_token(form)
        except ValidationError as error:
            apply_service_errors(form, error)
            return self.render_page(form=form)
        if form.cleaned_data.get("expires_at") is None and token.expires_at is not None:
            messages.info(
                self.request,
                _(
                    "No expiration date was given: the token expires on %(date)s, the longest "
                    "this instance allows."
                )
                % {"date": token.expires_at},
            )
        return self.render_page(new_token=token, plaintext=plaintext)

    @sensitive_variables()
    def rotate(self, token):
        """Replace `token` by its successor when the form's single-use key is unclaimed (as
        for a creation), and show the new value in this one response; anything else goes
        back to the page without a value."""
        refused = self.claim_form()
        if refused is not None:
            return refused
        try:
            successor, plaintext = self.rotate_token(
                token, overlap_hours=self.request.POST.get("overlap_hours")
            )
        except ValidationError as error:
            messages.error(self.request, " ".join(error.messages))
            return self.back_to_page()
        if successor.previous_works:
            until = successor.previous_expires_at.astimezone(UTC)
            messages.info(
                self.request,
                _(
                    "The old value of %(name)s works until %(until)s UTC: give the new one to "
                    "what uses it before then."
                )
                % {"name": token.name, "until": f"{until:%Y-%m-%d %H:%M}"},
            )
        return self.render_page(new_token=successor, plaintext=plaintext)

    def revoke(self, token) -> HttpResponseRedirect:
        try:
            self.revoke_token(token)
        except ValidationError as error:
            messages.error(self.request, " ".join(error.messages))
        else:
            messages.success(
                self.request,
                _("Revoked %(noun)s %(name)s.") % {"noun": self.noun, "name": token.name},
            )
        return self.back_to_page()

    def back_to_page(self) -> HttpResponseRedirect:
        # 303: the browser follows with a GET, and a reload does not repeat the POST.
        response = redirect(self.page_url())
        response.status_code = 303
        return response
