// Books (docs/books.md): tax lots, realized gains, statements, transfers; and what risk
// the API offers so far.

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

export function riskView() {
  const root = el("div", { class: "panel", id: "risk" }, el("h2", { text: "Risk" }),
    el("p", { text: "Portfolio limits and trading states are checked on every order (docs/risk.md); an operator sets them with the admin commands risk-limits and trading-state, and an order they refuse is shown in the blotter with its reason (max_var, max_drawdown, max_gross_exposure, max_concentration, account_reducing, account_halted)." }),
    el("p", { class: "muted", text: "Waits for the API: the VaR, ES and correlation matrix are computed in the server but no request or channel returns them yet (the risk channel is not built), so there is no heatmap here. Strategies are not built either." }));
  return { root };
}
