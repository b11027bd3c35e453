// The login's signature, made here: HMAC-SHA256(secret, `${ts}:${nonce}:login`) in hex
// (docs/protocol.md, Login). The secret is imported once as a non-extractable key and the
// text is dropped: nothing in the page can read it back, and it never leaves the page.

export function cryptoAvailable() {
  return Boolean(globalThis.crypto && crypto.subtle);
}

export async function importSecret(secret) {
  const bytes = new TextEncoder().encode(secret);
  return crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function nonce() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return hex(bytes.buffer);
}

export async function signedLogin(key, cryptoKey, totp) {
  const ts = Date.now();
  const n = nonce();
  const sig = hex(await crypto.subtle.sign("HMAC", cryptoKey, new TextEncoder().encode(`${ts}:${n}:login`)));
  const frame = { op: "login", key, ts, nonce: n, sig, batch: true }; // many reports a frame
  if (totp) frame.totp = totp;
  return frame;
}
