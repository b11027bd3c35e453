// The advisor's view: the group's accounts, a basket for the open with its row-by-row
// check, and after the open each symbol's fills allocated to the accounts.

import { el, errorText, table } from "./util.js";

export function advisorView(app) {
  const accountsBox = el("div", { id: "advisor-accounts" });
  const file = el("input", { type: "file", id: "basket-file", accept: ".csv,text/csv" });
  const text = el("textarea", { id: "basket-text", rows: 6, cols: 70, placeholder: "account,client_order_id,symbol,side,qty,notional\nC1,open-1,IBM,buy,0.3,\n" });
  const outcome = el("div", { id: "basket-result" });
  const allocations = el("div", { id: "allocations" });
  file.addEventListener("change", async () => {
    if (file.files.length) text.value = await file.files[0].text();
  });

  async function accounts() {
    const rows = [];
    for (const account of app.session.accounts) {
      const reply = await app.conn.request({ op: "get_account", account });
      rows.push(reply.type === "error" ? { account, cash: errorText(reply) } : { ...reply, held: reply.positions.map((p) => `${p.qty} ${p.symbol}`).join(", ") });
    }
    accountsBox.replaceChildren(
      table([{ title: "Account", key: "account" }, { title: "Cash", key: "cash", num: true }, { title: "Buying power", key: "buying_power", num: true }, { title: "Positions", key: "held" }], rows),
    );
  }

  async function upload() {
    outcome.replaceChildren(el("p", { class: "muted", text: "checking and loading…" }));
    let reply;
    try {
      reply = await app.conn.request({ op: "load_orders", csv: text.value });
    } catch (error) {
      outcome.replaceChildren(el("p", { class: "err", text: `Not sent: ${error.message}` }));
      return;
    }
    if (reply.type === "orders_loaded") {
      outcome.replaceChildren(
        el("p", { class: "ok", text: `Loaded: ${reply.rows} rows, ${reply.accepted} accepted, ${reply.rejected} rejected, ${reply.already_loaded} already loaded (${reply.ms} ms).` }),
        ...(Object.keys(reply.rejected_by_reason).length ? [table([{ title: "Reason", key: 0 }, { title: "Orders", key: 1, num: true }], Object.entries(reply.rejected_by_reason))] : []),
      );
      return;
    }
    const problems = reply.problems || [];
    const parts = [el("p", { class: "err", text: `${errorText(reply)}` })];
    if (problems.length) parts.push(table([{ title: "Row", key: "row", num: true }, { title: "Code", key: "code" }, { title: "Problem", key: "problem" }], problems));
    if (reply.other_rows) parts.push(el("p", { class: "err", text: `Other bad rows: ${reply.other_rows}` }));
    outcome.replaceChildren(...parts);
  }

  // The fills of orders for the open (tif opg), block by block (each report names the block
  // it was allocated from): what each account got, and the block's total over them.
  function drawAllocations() {
    const groups = new Map();
    for (const report of app.blotter.executions) {
      if (report.tif !== "opg" || report.exec_type !== "trade") continue;
      const key = report.block ? `block ${report.block} · ${report.symbol} ${report.side}` : `${report.symbol} ${report.side}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(report);
    }
    if (!groups.size) {
      allocations.replaceChildren(el("p", { class: "muted", text: "No fills at the open yet." }));
      return;
    }
    allocations.replaceChildren(
      ...[...groups].map(([key, rows]) =>
        el("div", { class: "block" }, el("h3", { text: `${key} · ${rows.length} fills` }), table([{ title: "Account", key: "account" }, { title: "Client id", key: "client_order_id" }, { title: "Qty", key: "last_qty", num: true }, { title: "Price", key: "last_price", num: true }], rows)),
      ),
    );
  }
  app.blotter.addEventListener("changed", drawAllocations);

  const root = el(
    "div",
    { class: "stack" },
    el("div", { class: "panel" }, el("h2", { text: "The group's accounts" }), el("button", { type: "button", text: "Refresh", onclick: accounts }), accountsBox),
    el("div", { class: "panel" }, el("h2", { text: "Basket for the open" }), el("div", { class: "row" }, file), text, el("div", {}, el("button", { type: "button", id: "basket-upload", text: "Check and load", onclick: upload })), outcome),
    el("div", { class: "panel" }, el("h2", { text: "Allocations at the open" }), allocations,
      el("p", { class: "hint", text: "Each fill of an order for the open is the account's share of its symbol's block, named by the block's id. The block's own totals and what crossed are an operator's (admin blocks)." })),
  );
  return { root, shown: () => { accounts(); drawAllocations(); } };
}
