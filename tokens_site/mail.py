"""One email to one user, as text and HTML from a pair of templates (`<name>.txt`,
`<name>.html`), in the recipient's language (`tokens_site.language.email_language`). For
notices that must not undo what they tell of: the mail server's trouble is logged, never
raised.

A sender builds the subject and any other translated text of the context in the recipient's
language too: `with translation.override(email_language(user)): email_user(user, subject=_(…), …)`.
"""

import logging

from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from tokens_site.language import email_language

logger = logging.getLogger(__name__)


def email_user(user, *, subject: str, template: str, context: dict) -> bool:
    """Send it if the user has an address; whether it went. The templates are rendered in the
    user's language."""
    if not user.email:
        return False
    context = {"user": user, **context}
    language = email_language(user)
    with translation.override(language):  # a lazy subject too
        subject = " ".join(str(subject).splitlines())  # a token's name may hold a line break
    try:
        with translation.override(language):
            message = render_to_string(f"{template}.txt", context)
            html_message = render_to_string(f"{template}.html", context)
        send_mail(
            subject=subject,
            message=message,
            from_email=None,
            recipient_list=[user.email],
            html_message=html_message,
        )
    except (OSError, ValueError) as error:  # ValueError: a header Django refuses
        logger.error("Could not email %s (%s): %s", user, subject, error)
        return False
    return True
