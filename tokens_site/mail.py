"""One email to one user, as text and HTML from a pair of templates (`<name>.txt`,
`<name>.html`). For notices that must not undo what they tell of: the mail server's
trouble is logged, never raised."""

import logging

from django.core.mail import send_mail
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


def email_user(user, *, subject: str, template: str, context: dict) -> bool:
    """Send it if the user has an address; whether it went."""
    if not user.email:
        return False
    context = {"user": user, **context}
    subject = " ".join(subject.splitlines())  # a token's name may hold a line break
    try:
        send_mail(
            subject=subject,
            message=render_to_string(f"{template}.txt", context),
            from_email=None,
            recipient_list=[user.email],
            html_message=render_to_string(f"{template}.html", context),
        )
    except (OSError, ValueError) as error:  # ValueError: a header Django refuses
        logger.error("Could not email %s (%s): %s", user, subject, error)
        return False
    return True
