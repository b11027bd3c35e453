// Small DOM helpers and the words shown for the server's codes.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function field(label, input, name) {
  return el("label", { class: "field" }, label, input, el("span", { class: "err", "data-for": name || input.name || "" }));
}

export function table(columns, rows) {
  return el(
    "table",
    { class: "plain" },
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { class: c.num ? "num" : undefined, text: c.title })))),
    el(
      "tbody",
      {},
      rows.map((row) => el("tr", {}, columns.map((c) => el("td", { class: c.num ? "num" : undefined, text: show(c.get ? c.get(row) : row[c.key]) })))),
    ),
  );
}

export function show(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function when(ns) {
  if (!ns) return "—";
  const d = new Date(Number(BigInt(ns) / 1000000n));
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

// The reasons of rejected orders and refused requests, in words (docs/protocol.md).
const WORDS = {
  insufficient_buying_power: "not enough buying power",
  insufficient_position: "not enough shares to sell",
  price_out_of_band: "price too far from the market",
  max_order_size: "order larger than the size limit",
  max_order_notional: "order value above the limit",
  account_halted: "the account is halted",
  account_reducing: "the account may only reduce risk",
  account_killed: "the account's kill switch is on",
  halted: "trading in this symbol is halted",
  market_closed: "the market is closed",
  no_venue: "no venue takes this order",
  open_passed: "today's open has passed",
  unsupported_order: "this order type is not supported for this instrument",
  duplicate_client_order_id: "this client order id was used with other terms",
  notional_too_small: "notional too small",
  max_drawdown: "the account's drawdown limit",
  max_gross_exposure: "the account's gross exposure limit",
  max_concentration: "the account's concentration limit",
  max_var: "the account's value-at-risk limit",
  invalid_request: "invalid request",
  unknown_symbol: "unknown symbol",
  forbidden: "not allowed",
  rate_limited: "too many requests",
  not_authenticated: "not logged in",
  order_not_open: "the order is no longer open",
  pending_request: "a cancel or replace is already under way",
  cancel_rejected: "the venue refused the cancel",
  replace_rejected: "the venue refused the replace",
  unknown_order: "unknown order",
  admin_failed: "the command failed",
  user_canceled: "canceled",
  end_of_day: "expired at the end of the day",
};

export function words(code) {
  return WORDS[code] ? `${WORDS[code]} (${code})` : String(code);
}

export function errorText(reply) {
  if (!reply) return "no answer";
  if (reply.type === "error") return `${words(reply.code)}: ${reply.message}`;
  if (reply.exec_type === "rejected") return `rejected: ${words(reply.reason)}`;
  return "";
}
