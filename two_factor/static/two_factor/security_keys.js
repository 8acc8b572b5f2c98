// Security keys (WebAuthn): a <form data-webauthn="create|get"> asks the browser for a new
// credential (registration) or an assertion (sign-in) with the options in the JSON element
// named by data-webauthn-options, puts the answer, as JSON, in the hidden field named by
// data-webauthn-field, and submits. The server checks everything (two_factor/security_keys.py).
"use strict";

const fromBase64url = (value) => {
  const base64 = value.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
};

const toBase64url = (buffer) =>
  btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

const withIds = (descriptors) =>
  (descriptors || []).map((descriptor) => ({ ...descriptor, id: fromBase64url(descriptor.id) }));

// The JSON options as the browser takes them (current browsers parse them themselves).
function creationOptions(json) {
  if (PublicKeyCredential.parseCreationOptionsFromJSON) {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    user: { ...json.user, id: fromBase64url(json.user.id) },
    excludeCredentials: withIds(json.excludeCredentials),
  };
}

function requestOptions(json) {
  if (PublicKeyCredential.parseRequestOptionsFromJSON) {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    allowCredentials: withIds(json.allowCredentials),
  };
}

// The credential as WebAuthn's JSON form (toJSON() where the browser has it).
function credentialJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const response = credential.response;
  const json = {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment,
    clientExtensionResults: credential.getClientExtensionResults(),
    response: { clientDataJSON: toBase64url(response.clientDataJSON) },
  };
  if (response.attestationObject) {
    json.response.attestationObject = toBase64url(response.attestationObject);
    json.response.transports = response.getTransports ? response.getTransports() : [];
  } else {
    json.response.authenticatorData = toBase64url(response.authenticatorData);
    json.response.signature = toBase64url(response.signature);
    if (response.userHandle) json.response.userHandle = toBase64url(response.userHandle);
  }
  return json;
}

document.querySelectorAll("form[data-webauthn]").forEach((form) => {
  const optionsElement = document.getElementById(form.dataset.webauthnOptions);
  const field = document.getElementById(form.dataset.webauthnField);
  const status = form.querySelector(".webauthn-status");
  if (!optionsElement || !field) return;
  const say = (text) => { if (status) status.textContent = text; };
  form.addEventListener("submit", async (event) => {
    // A field left empty: let the server say so, without asking the key first.
    const empty = [...form.querySelectorAll("input:not([type=hidden])")].some((input) => !input.value);
    if (field.value || empty) return;
    event.preventDefault();
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say("This browser cannot use security keys.");
      return;
    }
    const options = JSON.parse(optionsElement.textContent);
    say("Touch your security key when it blinks…");
    try {
      const credential = form.dataset.webauthn === "create"
        ? await navigator.credentials.create({ publicKey: creationOptions(options) })
        : await navigator.credentials.get({ publicKey: requestOptions(options) });
      field.value = JSON.stringify(credentialJSON(credential));
      form.submit();
    } catch (error) {
      say(error.name === "InvalidStateError"
        ? "This security key is already registered."
        : `The security key did not answer (${error.name}). Try again.`);
    }
  });
});
