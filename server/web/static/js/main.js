// The page: log in, then the views the session's role and scopes allow (docs/web.md).

import { Conn, socketUrl } from "./conn.js";
import { cryptoAvailable, importSecret, signedLogin } from "./sign.js";
import { Blotter } from "./blotter.js";
import { el } from "./util.js";
import { traderView } from "./trader.js";
import { advisorView } from "./advisor.js";
import { operatorView } from "./operator.js";
import { booksView, riskView } from "./books.js";

const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 8000;

const $ = (id) => document.getElementById(id);

export const app = {
  conn: null,
  session: null, // the login reply
  key: "",
  cryptoKey: null, // the secret, as a non-extractable HMAC key
  blotter: new Blotter(),
  views: [],
  listeners: new Set(), // (frame) => void
  reconnects: 0,
  stopping: false,
};
window.brokerd = app; // the browser tests feed and inspect the blotter through it

export function banner(text, kind = "info") {
  const node = $("banner");
  node.textContent = text;
  node.dataset.kind = kind;
  node.hidden = !text;
}

export function confirmAction(text) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    dialog.showModal();
  });
}

export function can(permission) {
  return Boolean(app.session && app.session.permissions && app.session.permissions.includes(permission));
}

export function hasScope(scope) {
  return Boolean(app.session && app.session.scopes.includes(scope));
}

function setLink(state, text) {
  const node = $("link");
  node.dataset.state = state;
  node.textContent = text;
}

async function connect() {
  const conn = new Conn(socketUrl());
  conn.addEventListener("frame", (event) => onFrame(event.detail));
  conn.addEventListener("problem", (event) => banner(event.detail, "error"));
  conn.addEventListener("state", (event) => onState(conn, event.detail));
  await conn.open();
  return conn;
}

function onFrame(frame) {
  if (frame.type === "execution") app.blotter.ingest(frame);
  for (const listener of app.listeners) listener(frame);
}

async function logIn(totp) {
  const frame = await signedLogin(app.key, app.cryptoKey, totp);
  return app.conn.request(frame);
}

function loginError(reply) {
  if (reply.code === "mfa_required") {
    $("totp-row").hidden = false;
    return `This login needs a TOTP code: ${reply.message}`;
  }
  if (reply.code === "not_authenticated") return `Login refused: ${reply.message}`;
  if (reply.code === "rate_limited" || reply.code === "locked") return `Login refused: ${reply.message}`;
  return `Login refused (${reply.code}): ${reply.message}`;
}

async function onLoginSubmit(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  if (!cryptoAvailable()) {
    $("login-error").textContent = "This browser offers no WebCrypto here: open the page over https:// or on this machine (loopback).";
    return;
  }
  const key = $("login-key").value.trim();
  const secret = $("login-secret").value;
  const totp = $("login-totp").value.trim();
  $("login-submit").disabled = true;
  try {
    app.key = key;
    app.cryptoKey = await importSecret(secret);
    $("login-secret").value = ""; // the text is dropped; the key cannot be read back
    if (!app.conn || app.conn.state !== "open") app.conn = await connect();
    const reply = await logIn(totp);
    if (reply.type !== "login") {
      $("login-error").textContent = loginError(reply);
      return;
    }
    await started(reply);
  } catch (error) {
    $("login-error").textContent = `Cannot log in: ${error.message}`;
  } finally {
    $("login-submit").disabled = false;
    $("login-totp").value = "";
  }
}

async function started(reply) {
  app.session = reply;
  const who = await app.conn.request({ op: "whoami" });
  app.session.permissions = who.permissions || [];
  $("who").textContent = `${reply.key_id || app.key} · ${reply.role} · ${reply.tenant}`;
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  $("logout").hidden = false;
  buildViews();
  await resubscribe();
  await resync(false);
}

function buildViews() {
  const tabs = $("tabs");
  const root = $("app-view");
  tabs.replaceChildren();
  root.replaceChildren();
  app.views = [];
  const scopes = app.session.scopes;
  const admin = scopes.includes("admin") && ["operator", "tenant_admin", "platform_operator"].includes(app.session.role);
  const entries = [
    ["trade", "Trade", traderView, scopes.includes("read")],
    ["advisor", "Advisor", advisorView, app.session.role === "advisor"],
    ["books", "Books", booksView, scopes.includes("read")],
    ["operator", "Operator", operatorView, admin],
    ["risk", "Risk", riskView, true],
  ];
  for (const [name, title, make, shown] of entries) {
    if (!shown) continue;
    const view = make(app);
    const section = el("section", { id: `view-${name}`, hidden: true }, view.root);
    root.append(section);
    const button = el("button", { type: "button", id: `tab-${name}`, "aria-selected": "false", text: title, onclick: () => select(name) });
    tabs.append(button);
    app.views.push({ name, view, section, button });
  }
  tabs.hidden = false;
  if (app.views.length) select(app.views[0].name);
}

function select(name) {
  for (const entry of app.views) {
    const chosen = entry.name === name;
    entry.section.hidden = !chosen;
    entry.button.setAttribute("aria-selected", String(chosen));
    if (chosen && entry.view.shown) entry.view.shown();
  }
}

async function resubscribe() {
  for (const entry of app.views) if (entry.view.subscribe) await entry.view.subscribe();
}

// Every order of every account in reach, and the accounts, as the server holds them now.
async function resync(announce) {
  let count = 0;
  for (const entry of app.views) if (entry.view.resync) count += (await entry.view.resync()) || 0;
  if (announce) {
    const at = new Date().toLocaleTimeString([], { hour12: false });
    banner(`Reconnected at ${at}; resynchronised by querying the server (${count} orders).`, "ok");
  }
}

function onState(conn, detail) {
  if (app.conn && conn !== app.conn) return; // an old connection's last words
  if (detail.state === "open") setLink("open", "connected");
  else if (detail.state === "connecting") setLink("connecting", "connecting…");
  else if (detail.state === "closed") setLink("closed", "logged out");
  else if (detail.state === "lost" && detail.wasOpen) lost(detail);
}

function lost(detail) {
  if (app.stopping || !app.session) {
    setLink("lost", "not connected");
    return;
  }
  // closed by policy (an API key revoked, rotated or expired; a login deadline): the session
  // has ended, log in again; anything else is the network: reconnect and resynchronise
  if (detail.code === 1008) {
    endSession(`Your session has ended: ${detail.reason || "closed by the server"}. Log in again.`);
    return;
  }
  setLink("lost", "reconnecting…");
  banner(`Connection lost${detail.reason ? ` (${detail.reason})` : ""}; reconnecting…`, "error");
  reconnect(RECONNECT_FIRST_MS);
}

async function reconnect(delay) {
  await new Promise((resolve) => setTimeout(resolve, delay));
  if (app.stopping || !app.session) return;
  try {
    app.conn = await connect();
    const reply = await logIn();
    if (reply.type !== "login") {
      endSession(`Could not log in again: ${loginError(reply)}`);
      return;
    }
    app.reconnects += 1;
    app.session = { ...reply, permissions: app.session.permissions };
    await resubscribe();
    await resync(true);
  } catch (error) {
    banner(`Connection lost; retrying in ${Math.round(Math.min(delay * 2, RECONNECT_MAX_MS) / 1000)} s (${error.message}).`, "error");
    reconnect(Math.min(delay * 2, RECONNECT_MAX_MS));
  }
}

function endSession(text) {
  app.session = null;
  app.cryptoKey = null;
  if (app.conn) app.conn.close();
  app.conn = null;
  app.blotter.clear();
  app.listeners.clear();
  $("app-view").hidden = true;
  $("app-view").replaceChildren();
  $("tabs").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("login-view").hidden = false;
  $("login-error").textContent = text;
  banner(text, "error");
}

function logout() {
  app.stopping = true;
  endSession("");
  banner("");
  app.stopping = false;
}

window.addEventListener("error", (event) => banner(`Something went wrong in the page: ${event.message}`, "error"));
window.addEventListener("unhandledrejection", (event) => banner(`Something went wrong: ${event.reason && event.reason.message ? event.reason.message : event.reason}`, "error"));
$("login").addEventListener("submit", onLoginSubmit);
$("logout").addEventListener("click", logout);
setLink("idle", "");
