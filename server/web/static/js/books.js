// Books (docs/books.md): tax lots, realized gains, statements, transfers; and risk.

import { el, errorText, table } from "./util.js";

export function booksView(app) {
  const accounts = app.session.accounts;
  const account = accounts.length ? el("select", { id: "books-account" }, accounts.map((a) => el("option", { value: a, text: a }))) : el("input", { id: "books-account", placeholder: "account" });
  const today = new Date().toISOString().slice(0, 10);
  const from = el("input", { id: "books-from", type: "date", value: `${today.slice(0, 4)}-01-01` });
  const to = el("input", { id: "books-to", type: "date", value: today });
  const out = el("div", { id: "books-out" });
  const ask = async (body) => {
    let reply;
    try {
      reply = await app.conn.request({ ...body, account: account.value.trim() });
    } catch (error) {
      out.replaceChildren(el("p", { class: "err", text: error.message }));
      return null;
    }
    if (reply.type === "error") {
      out.replaceChildren(el("p", { class: "err", text: errorText(reply) }));
      return null;
    }
    return reply;
  };
  const lots = async () => {
    const reply = await ask({ op: "get_lots" });
    if (reply) out.replaceChildren(el("p", { text: `lot method ${reply.lot_method}` }), table(["symbol", "lot_id", "qty", "cost", "mark", "unrealized", "term"].map((k) => ({ title: k, key: k, num: ["qty", "cost", "mark", "unrealized"].includes(k) })), reply.lots));
  };
  const gains = async () => {
    const reply = await ask({ op: "get_gains", from: from.value, to: to.value });
    if (reply) out.replaceChildren(table(Object.keys(reply.totals).map((k) => ({ title: k, key: k })), [reply.totals]), table(["symbol", "lot_id", "qty", "proceeds", "cost", "gain", "term", "wash_sale"].map((k) => ({ title: k, key: k })), reply.gains));
  };
  const statement = async () => {
    const reply = await ask({ op: "get_statement", from: from.value, to: to.value });
    if (!reply) return;
    out.replaceChildren(
      el("p", { text: `${reply.account} (${reply.owner}) ${reply.from} to ${reply.to}, ${reply.timezone}` }),
      table([{ title: "", key: "when" }, { title: "cash", key: "cash", num: true }, { title: "positions", get: (r) => r.positions.map((p) => `${p.qty} ${p.symbol}`).join(", ") }], [{ when: "opening", ...reply.opening }, { when: "closing", ...reply.closing }]),
      el("p", { text: `${reply.trades.length} trades, ${reply.cash_movements.length} cash movements, ${reply.security_moves.length} security moves, ${reply.realized.length} realized` }),
    );
  };
  const transfers = async () => {
    const reply = await ask({ op: "get_transfers" });
    if (reply) out.replaceChildren(table(["transfer_id", "kind", "amount", "status", "reason", "idempotency_key"].map((k) => ({ title: k, key: k })), reply.transfers));
  };
  const button = (text, run) => el("button", { type: "button", text, onclick: run });
  const root = el("div", { class: "panel" }, el("h2", { text: "Books" }),
    el("div", { class: "row" }, account, from, to, button("Lots", lots), button("Gains", gains), button("Statement", statement), button("Transfers", transfers)), out);
  return { root };
}

// Risk (docs/risk.md): the alerts of every account in reach as they are raised and cleared
// (the risk channel), and for an operator an account's or group's measures now (admin risk):
// VaR and ES, exposure, concentration, drawdown, limits, state, and the correlation of the
// symbols held as a heatmap.
export function riskView(app) {
  const alerts = [];
  const alertsBox = el("div", { id: "risk-alerts" }, el("p", { class: "muted", text: "No alert since you logged in." }));
  const out = el("div", { id: "risk-out" });
  const target = el("input", { id: "risk-account", placeholder: "account or group:NAME", size: 18 });
  const operator = app.session.scopes.includes("admin");
  const drawAlerts = () => {
    alertsBox.replaceChildren(table(
      [{ title: "account", key: "account" }, { title: "state", key: "state" }, { title: "kind", key: "kind" }, { title: "subject", key: "subject" },
       { title: "value", key: "value", num: true }, { title: "threshold", key: "threshold", num: true }, { title: "trading state", key: "trading_state" }],
      alerts.slice(-50).reverse(),
    ));
  };
  app.listeners.add((frame) => {
    if (frame.type !== "risk_alert") return;
    alerts.push(frame);
    drawAlerts();
  });
  const measures = async () => {
    const args = target.value.trim() ? [target.value.trim()] : [];
    let reply;
    try {
      reply = await app.conn.request({ op: "admin", command: "risk", args });
    } catch (error) {
      out.replaceChildren(el("p", { class: "err", text: error.message }));
      return;
    }
    if (reply.type === "error") {
      out.replaceChildren(el("p", { class: "err", text: errorText(reply) }));
      return;
    }
    const r = reply.result;
    const levels = Object.keys(r.historical || {});
    out.replaceChildren(
      el("p", { text: `equity ${r.equity} · high-water ${r.high_water} · drawdown ${r.drawdown_pct} % · gross ${r.gross_exposure} · net ${r.net_exposure} · leverage ${r.leverage}` + (r.trading_state ? ` · ${r.trading_state}` : "") }),
      table([{ title: "level %", key: "level" }, { title: "historical VaR", key: "hv", num: true }, { title: "historical ES", key: "hes", num: true }, { title: "parametric VaR", key: "pv", num: true }, { title: "parametric ES", key: "pes", num: true }],
        levels.map((level) => ({ level, hv: r.historical[level].var, hes: r.historical[level].es, pv: (r.parametric[level] || {}).var, pes: (r.parametric[level] || {}).es }))),
      table([{ title: "symbol", key: "symbol" }, { title: "exposure", key: "value", num: true }], Object.entries(r.exposures || {}).map(([symbol, value]) => ({ symbol, value }))),
      r.limits ? el("p", { text: `limits: ${Object.entries(r.limits).filter(([, v]) => v !== null && v !== "").map(([k, v]) => `${k} ${v}`).join(", ") || "none"}` }) : null,
      heatmap(r.correlation),
    );
  };
  const root = el("div", { class: "stack", id: "risk" },
    el("div", { class: "panel" }, el("h2", { text: "Risk alerts" }),
      el("p", { class: "muted", text: "Limit breaches, drawdowns, correlations and volatility jumps of your accounts, once per crossing (the risk channel)." }), alertsBox),
    operator
      ? el("div", { class: "panel" }, el("h2", { text: "Measures now" }), el("div", { class: "row" }, target, el("button", { type: "button", id: "risk-show", text: "Show", onclick: measures })), out)
      : el("div", { class: "panel" }, el("p", { class: "muted", text: "The measures (VaR, ES, exposure, the correlation heatmap) are an operator's view (admin risk). Strategies are not built yet." })),
  );
  return {
    root,
    async subscribe() {
      // a session without accounts.read is refused: then there is no alert to show it
      const reply = await app.conn.request({ op: "subscribe", channels: ["risk"] });
      if (reply.type === "error") alertsBox.replaceChildren(el("p", { class: "muted", text: `No risk alerts for this session: ${errorText(reply)}` }));
    },
  };
}

// The correlation of the symbols held: one cell a pair, red for +1, blue for −1, grey where
// a symbol never moved (no correlation, not a zero).
function heatmap(correlation) {
  if (!correlation || !correlation.symbols.length) return el("p", { class: "muted", text: "No symbol held: no correlation to show." });
  const { symbols, matrix } = correlation;
  const colour = (text) => {
    if (text === null) return "#ccc";
    const v = Number(text);
    const a = Math.round(Math.abs(v) * 200);
    return v >= 0 ? `rgb(255,${255 - a},${255 - a})` : `rgb(${255 - a},${255 - a},255)`;
  };
  return el("table", { class: "heat", id: "risk-heatmap" },
    el("thead", {}, el("tr", {}, el("th", {}), symbols.map((s) => el("th", { text: s })))),
    el("tbody", {}, matrix.map((row, i) => el("tr", {}, el("th", { text: symbols[i] }),
      row.map((text) => {
        // through the CSSOM: the page's policy allows no inline style attribute
        const cell = el("td", { text: text === null ? "—" : Number(text).toFixed(2), title: text === null ? "never moved" : text });
        cell.style.backgroundColor = colour(text);
        return cell;
      })))));
}
