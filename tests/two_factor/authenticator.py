"""A software WebAuthn authenticator (ES256, "none" attestation) for the tests of the
server's checks: it makes real credentials and real signatures, as a security key does, so
py_webauthn verifies them exactly as it verifies a browser's. The browser test drives
Chromium's own virtual authenticator instead."""

import hashlib
import json
import secrets
import struct
from base64 import urlsafe_b64encode

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP = 0x01  # user present
AT = 0x40  # attested credential data included


def b64url(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


class SoftwareKey:
    def __init__(self, *, rp_id: str = "localhost", origin: str = "http://localhost:8000"):
        self.rp_id = rp_id
        self.origin = origin
        self.credential_id = secrets.token_bytes(32)
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.sign_count = 0

    def _cose_public_key(self) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        return json.dumps({**data, "crossOrigin": False}).encode()

    def _auth_data(self, flags: int, extra: bytes = b"") -> bytes:
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", self.sign_count) + extra

    def register(self, options: dict, *, origin: str | None = None) -> str:
        """The answer to navigator.credentials.create() for `options` (JSON from the page)."""
        attested = (
            bytes(16)  # AAGUID
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose_public_key()
        )
        attestation = cbor2.dumps(
            {"fmt": "none", "attStmt": {}, "authData": self._auth_data(UP | AT, attested)}
        )
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation),
                    "transports": ["usb"],
                },
                "clientExtensionResults": {},
            }
        )

    def sign_in(self, options: dict, *, origin: str | None = None, tamper: bool = False) -> str:
        """The answer to navigator.credentials.get() for `options`; `tamper`: with a
        signature that does not verify."""
        self.sign_count += 1
        auth_data = self._auth_data(UP)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.private_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        if tamper:
            signature = self.private_key.sign(signed + b"!", ec.ECDSA(hashes.SHA256()))
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                },
                "clientExtensionResults": {},
            }
        )
