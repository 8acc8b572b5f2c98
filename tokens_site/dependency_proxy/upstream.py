"""The dependency proxy's upstream registry (issue 19): fetching manifests and blobs with the
Docker registry's token dance (a 401 names a token service; its token is asked for, with the
upstream credentials if configured, and the request repeated), verifying every digest, and
keeping what was fetched in the group's cache.

Built on `requests`. Our own code for the protocol: no maintained Python registry client does
the pull-through a proxy needs (a streaming, verified, cached fetch).
"""

import hashlib
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import urllib3
from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from tokens_site.auth.reasons import in_english, interpolate
from tokens_site.models import DependencyProxyBlob, DependencyProxyManifest, InstanceSettings
from tokens_site.packages.services import Spool

logger = logging.getLogger(__name__)

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
MANIFEST_MAX_BYTES = 4 * 1024 * 1024
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
DOCKER_HUB_HOSTS = {"registry-1.docker.io", "index.docker.io", "docker.io"}
_CHALLENGE_PART = re.compile(r'(\w+)="([^"]*)"')
CHUNK_SIZE = 64 * 1024


class UpstreamError(Exception):
    """The upstream could not give what was asked (down, timed out, an error, a bad digest).
    Its message is lazy (tokens_site.auth.reasons): docker reads it in the client's language,
    the log in English."""


class NotFoundUpstream(UpstreamError):
    pass


@dataclass
class Upstream:
    url: str
    username: str = ""
    password: str = ""

    @classmethod
    def configured(cls) -> "Upstream":
        return cls(
            url=InstanceSettings.current().dependency_proxy_upstream_url.rstrip("/"),
            username=settings.DEPENDENCY_PROXY_UPSTREAM_USERNAME,
            password=settings.DEPENDENCY_PROXY_UPSTREAM_PASSWORD,
        )

    def name(self, image: str) -> str:
        """The upstream repository name: Docker Hub's official images live under `library/`."""
        if urlsplit(self.url).hostname in DOCKER_HUB_HOSTS and "/" not in image:
            return f"library/{image}"
        return image

    def request(self, method: str, path: str, *, image: str, accept=None, stream=False):
        """`method` `path` on the upstream, through its token service when it asks for one."""
        url = f"{self.url}/v2/{self.name(image)}/{path}"
        headers = {"Accept": ", ".join(accept)} if accept else {}
        timeout = settings.DEPENDENCY_PROXY_TIMEOUT_SECONDS
        try:
            response = requests.request(
                method, url, headers=headers, timeout=timeout, stream=stream, allow_redirects=True
            )
            if response.status_code == 401:
                token = self._token(response.headers.get("WWW-Authenticate", ""))
                if token:
                    response.close()
                    headers["Authorization"] = f"Bearer {token}"
                    response = requests.request(
                        method, url, headers=headers, timeout=timeout, stream=stream
                    )
        except requests.RequestException as error:
            raise UpstreamError(
                interpolate(
                    gettext_lazy("The upstream registry could not be reached: %(error)s"),
                    error=str(error),
                )
            ) from error
        if response.status_code == 404:
            response.close()
            raise NotFoundUpstream(
                interpolate(
                    gettext_lazy("The upstream registry has no %(image)s %(path)s."),
                    image=image,
                    path=path,
                )
            )
        if response.status_code >= 400:
            response.close()
            raise UpstreamError(
                interpolate(
                    gettext_lazy(
                        "The upstream registry answered %(status)s for %(image)s %(path)s."
                    ),
                    status=response.status_code,
                    image=image,
                    path=path,
                )
            )
        return response

    def _token(self, challenge: str) -> str | None:
        scheme, _, rest = challenge.partition(" ")
        if scheme.lower() != "bearer":
            return None
        parts = dict(_CHALLENGE_PART.findall(rest))
        if "realm" not in parts:
            return None
        realm = urlsplit(parts["realm"])
        if realm.scheme not in ("http", "https"):
            raise UpstreamError(gettext_lazy("The upstream's token service is not an http(s) URL."))
        # The upstream's credentials go only over https, or back to the upstream itself.
        same_origin = realm.netloc == urlsplit(self.url).netloc
        trusted = realm.scheme == "https" or same_origin
        auth = (self.username, self.password) if self.username and trusted else None
        params = {key: parts[key] for key in ("service", "scope") if key in parts}
        answer = requests.get(
            parts["realm"],
            params=params,
            auth=auth,
            timeout=settings.DEPENDENCY_PROXY_TIMEOUT_SECONDS,
        )
        if answer.status_code != 200:
            raise UpstreamError(
                interpolate(
                    gettext_lazy("The upstream token service answered %(status)s."),
                    status=answer.status_code,
                )
            )
        try:
            body = answer.json()
        except (ValueError, RecursionError) as error:
            raise UpstreamError(
                gettext_lazy("The upstream token service did not answer JSON.")
            ) from error
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        return token if isinstance(token, str) else None


def _manifest_digest(response, content: bytes, reference: str) -> str:
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    claimed = response.headers.get("Docker-Content-Digest")
    if (claimed and claimed != digest) or (DIGEST.fullmatch(reference) and reference != digest):
        raise UpstreamError(
            interpolate(
                gettext_lazy(
                    "The upstream manifest does not match its digest (%(claimed)s claimed, "
                    "%(digest)s received): refused, not cached."
                ),
                claimed=claimed or reference,
                digest=digest,
            )
        )
    return digest


def fetch_manifest(group, image: str, reference: str) -> DependencyProxyManifest:
    """The manifest `image:reference` of `group`'s proxy: from the cache when it is fresh (a
    digest always is; a tag when the upstream's HEAD names the same digest, or when the
    upstream cannot be asked), else from the upstream, verified and cached."""
    cached = DependencyProxyManifest.objects.filter(
        group=group, image=image, reference=reference
    ).first()
    upstream = Upstream.configured()
    if cached is not None:
        if DIGEST.fullmatch(reference):
            return cached
        try:
            head = upstream.request(
                "HEAD", f"manifests/{reference}", image=image, accept=MANIFEST_TYPES
            )
            head.close()
        except NotFoundUpstream:
            raise
        except UpstreamError as error:
            logger.warning(
                "Dependency proxy: serving %s:%s from the cache: %s",
                image,
                reference,
                in_english(error),
            )
            return cached
        if head.headers.get("Docker-Content-Digest") == cached.digest:
            return cached
    response = upstream.request(
        "GET", f"manifests/{reference}", image=image, accept=MANIFEST_TYPES, stream=True
    )
    try:
        content = response.raw.read(MANIFEST_MAX_BYTES + 1, decode_content=True)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        raise UpstreamError(
            interpolate(
                gettext_lazy("The upstream manifest could not be read: %(error)s"),
                error=str(error),
            )
        ) from error
    finally:
        response.close()
    if len(content) > MANIFEST_MAX_BYTES:
        raise UpstreamError(gettext_lazy("The upstream manifest is too large (over 4 MiB)."))
    digest = _manifest_digest(response, content, reference)
    media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    if media_type not in MANIFEST_TYPES:
        media_type = _declared_type(content)
    values = {
        "digest": digest,
        "media_type": media_type,
        "content": content,
        "size": len(content),
        "updated_at": timezone.now(),
    }
    manifest = _keep_manifest(group, image, reference, values)
    if reference != digest:  # also findable by its digest
        _keep_manifest(group, image, digest, values)
    return manifest


def _keep_manifest(group, image: str, reference: str, values: dict) -> DependencyProxyManifest:
    try:
        with transaction.atomic():
            manifest, _ = DependencyProxyManifest.objects.update_or_create(
                group=group, image=image, reference=reference, defaults=values
            )
    except IntegrityError:  # kept by a concurrent pull meanwhile
        manifest = DependencyProxyManifest.objects.get(
            group=group, image=image, reference=reference
        )
    return manifest


def _declared_type(content: bytes) -> str:
    """The manifest's own `mediaType`, when the upstream's Content-Type says nothing usable."""
    import json

    try:
        declared = json.loads(content).get("mediaType")
    except (ValueError, AttributeError, RecursionError):
        declared = None
    return declared if declared in MANIFEST_TYPES else MANIFEST_TYPES[1]


def fetch_blob(group, image: str, digest: str) -> DependencyProxyBlob:
    """The blob `digest` of `group`'s proxy: from the cache, else from the upstream, streamed to
    a temporary file, verified against its digest and cached."""
    cached = DependencyProxyBlob.objects.filter(group=group, digest=digest).first()
    if cached is not None:
        return cached
    response = Upstream.configured().request("GET", f"blobs/{digest}", image=image, stream=True)
    try:
        with Spool(response.iter_content(CHUNK_SIZE), refuse_size=lambda size: None) as spool:
            if f"sha256:{spool.sha256}" != digest:
                raise UpstreamError(
                    interpolate(
                        gettext_lazy(
                            "The upstream blob does not match its digest %(digest)s: refused, "
                            "not cached."
                        ),
                        digest=digest,
                    )
                )
            return _keep_blob(group, digest, spool)
    except requests.RequestException as error:
        raise UpstreamError(
            interpolate(
                gettext_lazy("The upstream blob could not be read whole: %(error)s"),
                error=str(error),
            )
        ) from error
    finally:
        response.close()


def _keep_blob(group, digest: str, spool: Spool) -> DependencyProxyBlob:
    blob, stored = DependencyProxyBlob(group=group, digest=digest, size=spool.size), None
    try:
        with transaction.atomic():
            blob.file.save(digest.partition(":")[2], File(spool.file), save=False)
            stored = blob.file
            blob.save()
    except IntegrityError:  # fetched by another request meanwhile
        if stored:
            stored.delete(save=False)
        return DependencyProxyBlob.objects.get(group=group, digest=digest)
    return blob


def purge(group) -> None:
    """Empty `group`'s cache (the files once the deletion commits: tokens_site.signals)."""
    group.proxy_blobs.all().delete()
    group.proxy_manifests.all().delete()


def cache_size(group) -> int:
    from django.db.models import Sum

    blobs = group.proxy_blobs.aggregate(size=Sum("size"))["size"] or 0
    manifests = group.proxy_manifests.aggregate(size=Sum("size"))["size"] or 0
    return blobs + manifests
