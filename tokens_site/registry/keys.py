"""The key that signs registry tokens, and what the registry needs to trust it.

REGISTRY_SIGNING_KEY names a PEM private key file (RSA). When the file does not exist yet it is
created (mode 0600) on first use. The registry trusts a certificate of that key (its
`rootcertbundle`); tokens name the key with the libtrust key id the registry computes for it.
"""

import base64
import contextlib
import datetime
import hashlib
import os
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings

KEY_SIZE = 2048
CERTIFICATE_DAYS = 3650


def _generate(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Written aside under a name of its own (threads of one gunicorn worker share a PID), then
    # linked into place: whoever finds the file finds it whole, and of two processes making it
    # at once the first link wins and the other uses that key (never replaced once in use).
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # 0600
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


_keys: dict[str, rsa.RSAPrivateKey] = {}
_keys_lock = threading.Lock()  # the threads of a worker make and read the key once between them


def _load(path: str) -> rsa.RSAPrivateKey:
    with _keys_lock:
        if path not in _keys:
            key_path = Path(path)
            if not key_path.exists():
                _generate(key_path)
            _keys[path] = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        return _keys[path]


def signing_key() -> rsa.RSAPrivateKey:
    return _load(str(settings.REGISTRY_SIGNING_KEY))


def key_id(key: rsa.RSAPrivateKey | None = None) -> str:
    """libtrust's key id, which the registry derives from the certificates it trusts: base32 of
    the first 240 bits of the SHA-256 of the public key's DER, in groups of four."""
    public = (
        (key or signing_key())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    encoded = base64.b32encode(hashlib.sha256(public).digest()[:30]).decode()
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def certificate_pem() -> bytes:
    """A self-signed certificate of the signing key, for the registry's rootcertbundle."""
    key = signing_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, settings.REGISTRY_ISSUER)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=CERTIFICATE_DAYS))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)
