// The trader's view: order ticket, live blotter (orders and executions, virtualised), cash,
// buying power and positions, and a quote panel with a live chart.

import { el, errorText, field, show, table, when, words } from "./util.js";
import { VTable } from "./vtable.js";
import { QuoteChart } from "./chart.js";

const FIELDS = ["account", "symbol", "side", "type", "tif", "qty", "notional", "price", "stop_price", "client_order_id"];
const ACCOUNT_REFRESH_MS = 250; // fills coalesced into one get_account per this long at most
let sequence = 0;

// Which ticket field a refusal's message is about (messages name their field first).
export function fieldOf(message) {
  const text = String(message || "");
  if (/^unknown symbol|symbol/.test(text) && !/^qty|^notional|^price|^stop_price/.test(text)) return "symbol";
  for (const name of ["stop_price", "notional", "qty", "price", "tif", "type", "side", "account", "client_order_id"]) {
    if (text.startsWith(name)) return name;
  }
  if (/give exactly one of qty or notional|fok orders need qty/.test(text)) return "qty";
  if (/notional/.test(text)) return "notional";
  if (/stop orders|opg/.test(text)) return "tif";
  if (/price/.test(text)) return "price";
  if (/not yours|unknown account/.test(text)) return "account";
  return "";
}

export function traderView(app) {
  const accounts = app.session.accounts;
  const accountInput = accounts.length
    ? el("select", { name: "account" }, accounts.map((a) => el("option", { value: a, text: a })))
    : el("input", { name: "account", placeholder: "account id", required: true });
  const input = (name, attrs = {}) => el("input", { name, autocomplete: "off", ...attrs });
  const select = (name, values) => el("select", { name }, values.map((v) => el("option", { value: v, text: v })));
  const ticket = el(
    "form",
    { id: "ticket", class: "stack", novalidate: true },
    el("div", { class: "row" }, field("Account", accountInput, "account"), field("Symbol", input("symbol", { value: "IBM", list: "symbols" }), "symbol")),
    el("div", { class: "row" }, field("Side", select("side", ["buy", "sell"]), "side"), field("Type", select("type", ["market", "limit", "stop", "stop_limit"]), "type"),
      field("Time in force", select("tif", ["day", "gtc", "ioc", "fok", "opg"]), "tif")),
    el("div", { class: "row" },
      field("Size by", select("size_by", ["qty", "notional"]), "size_by"),
      field("Quantity", input("qty", { inputmode: "decimal", placeholder: "0.3" }), "qty"),
      field("Notional", input("notional", { inputmode: "decimal", placeholder: "100.00" }), "notional")),
    el("div", { class: "row" }, field("Limit price", input("price", { inputmode: "decimal" }), "price"), field("Stop price", input("stop_price", { inputmode: "decimal" }), "stop_price")),
    field("Client order id (blank: made up)", input("client_order_id"), "client_order_id"),
    el("button", { type: "submit", id: "ticket-submit", text: "Send order" }),
    el("p", { id: "ticket-result", role: "status" }),
  );
  const datalist = el("datalist", { id: "symbols" });
  const fieldsOf = () => Object.fromEntries([...ticket.elements].filter((e) => e.name).map((e) => [e.name, e]));
  const shape = () => {
    const f = fieldsOf();
    const type = f.type.value;
    f.price.closest(".field").hidden = !["limit", "stop_limit"].includes(type);
    f.stop_price.closest(".field").hidden = !["stop", "stop_limit"].includes(type);
    const byNotional = f.size_by.value === "notional";
    f.qty.closest(".field").hidden = byNotional;
    f.notional.closest(".field").hidden = !byNotional;
  };
  ticket.addEventListener("change", shape);
  const clearErrors = () => ticket.querySelectorAll(".err").forEach((node) => (node.textContent = ""));
  const result = (text, ok) => {
    const node = ticket.querySelector("#ticket-result");
    node.textContent = text;
    node.className = ok ? "ok" : "err";
  };
  ticket.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const f = fieldsOf();
    const order = { op: "new_order", account: f.account.value.trim(), symbol: f.symbol.value.trim().toUpperCase(), side: f.side.value, type: f.type.value, tif: f.tif.value };
    order.client_order_id = f.client_order_id.value.trim() || `web-${Date.now().toString(36)}-${(sequence += 1)}`;
    if (f.size_by.value === "notional") order.notional = f.notional.value.trim();
    else order.qty = f.qty.value.trim();
    if (["limit", "stop_limit"].includes(order.type)) order.price = f.price.value.trim();
    if (["stop", "stop_limit"].includes(order.type)) order.stop_price = f.stop_price.value.trim();
    try {
      const reply = await app.conn.request(order);
      if (reply.type === "error") {
        const name = fieldOf(reply.message);
        const slot = ticket.querySelector(`.err[data-for="${name}"]`);
        if (slot && name) slot.textContent = `${reply.message} (${reply.code})`;
        result(errorText(reply), false);
      } else if (reply.exec_type === "rejected") {
        result(`Order ${reply.client_order_id} rejected: ${words(reply.reason)}`, false);
      } else {
        result(`Order ${reply.client_order_id} accepted (${reply.status})`, true);
        f.client_order_id.value = "";
      }
    } catch (error) {
      result(`Not sent: ${error.message}`, false);
    }
  });

  // --- blotter ---
  const blotter = app.blotter;
  const mine = (report) => report.type === "execution";
  const orders = new VTable(
    [
      { title: "Time", width: 100, get: (r) => when(r.ts) },
      { title: "Account", width: 70, get: (r) => r.account },
      { title: "Client id", width: 150, get: (r) => r.client_order_id },
      { title: "Symbol", width: 70, get: (r) => r.symbol },
      { title: "Side", width: 45, get: (r) => r.side },
      { title: "Type", width: 80, get: (r) => `${r.order_type}/${r.tif}` },
      { title: "Qty", width: 90, get: (r) => show(r.qty ?? (r.notional ? `$${r.notional}` : null)) },
      { title: "Price", width: 80, get: (r) => show(r.price) },
      { title: "Filled", width: 90, get: (r) => r.cum_qty },
      { title: "Avg", width: 90, get: (r) => show(r.avg_price) },
      { title: "Status", width: 140, get: (r) => (r.reason ? `${r.status}: ${r.reason}` : r.status), cls: (r) => `status-${r.status}` },
      { title: "", width: 140, action: [
        { name: "cancel", label: "Cancel", when: (r) => ["new", "partially_filled"].includes(r.status) },
        { name: "replace", label: "Replace", when: (r) => ["new", "partially_filled"].includes(r.status) && !r.notional },
      ] },
    ],
    { count: () => blotter.orderIds.length, row: (i) => blotter.order(i), onAction: (action, row) => act(action, row), name: "orders" },
  );
  const executions = new VTable(
    [
      { title: "Time", width: 100, get: (r) => when(r.ts) },
      { title: "Account", width: 70, get: (r) => r.account },
      { title: "Client id", width: 150, get: (r) => r.client_order_id },
      { title: "Symbol", width: 70, get: (r) => r.symbol },
      { title: "Side", width: 45, get: (r) => r.side },
      { title: "Event", width: 80, get: (r) => r.exec_type, cls: (r) => `status-${r.status}` },
      { title: "Last qty", width: 90, get: (r) => r.last_qty },
      { title: "Last price", width: 90, get: (r) => show(r.last_price) },
      { title: "Cum qty", width: 90, get: (r) => r.cum_qty },
      { title: "Status", width: 140, get: (r) => (r.reason ? `${r.status}: ${r.reason}` : r.status) },
      { title: "Venue", width: 60, get: (r) => show(r.venue) },
    ],
    { count: () => blotter.executions.length, row: (i) => blotter.execution(i), name: "executions" },
  );
  const blotterNote = el("p", { class: "err", id: "blotter-note" });
  async function act(action, row) {
    blotterNote.textContent = "";
    let reply;
    try {
      if (action === "cancel") {
        reply = await app.conn.request({ op: "cancel_order", account: row.account, client_order_id: row.client_order_id });
      } else {
        const qty = prompt(`New total quantity of ${row.client_order_id} (blank: unchanged)`, row.qty || "");
        const price = row.price !== null ? prompt("New limit price (blank: unchanged)", row.price) : null;
        const body = { op: "replace_order", account: row.account, client_order_id: row.client_order_id, new_client_order_id: `${row.client_order_id}-r${(sequence += 1)}` };
        if (qty && qty !== row.qty) body.qty = qty;
        if (price && price !== row.price) body.price = price;
        if (!body.qty && !body.price) return;
        reply = await app.conn.request(body);
      }
    } catch (error) {
      blotterNote.textContent = `${action} not sent: ${error.message}`;
      return;
    }
    if (reply.type === "error") blotterNote.textContent = `${action} of ${row.client_order_id} refused: ${errorText(reply)}`;
  }
  const showOrders = el("button", { type: "button", id: "show-orders", "aria-selected": "true", text: "Orders" });
  const showExecutions = el("button", { type: "button", id: "show-executions", "aria-selected": "false", text: "Executions" });
  const counts = el("span", { class: "muted", id: "blotter-counts" });
  const switchTo = (which) => {
    orders.root.hidden = which !== "orders";
    executions.root.hidden = which !== "executions";
    showOrders.setAttribute("aria-selected", String(which === "orders"));
    showExecutions.setAttribute("aria-selected", String(which === "executions"));
    (which === "orders" ? orders : executions).invalidate();
  };
  showOrders.addEventListener("click", () => switchTo("orders"));
  showExecutions.addEventListener("click", () => switchTo("executions"));
  executions.root.hidden = true;

  // --- account ---
  const accountChoice = accounts.length
    ? el("select", { id: "positions-account" }, accounts.map((a) => el("option", { value: a, text: a })))
    : el("input", { id: "positions-account", placeholder: "account id" });
  const accountBox = el("div", { id: "account-box" }, el("p", { class: "muted", text: "choose an account" }));
  let refreshing = null;
  let again = false;
  async function refreshAccount() {
    const account = accountChoice.value.trim();
    if (!account || !app.conn) return;
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = app.conn.request({ op: "get_account", account });
    let reply;
    try {
      reply = await refreshing;
    } catch (error) {
      accountBox.replaceChildren(el("p", { class: "err", text: `Account not read: ${error.message}` }));
      return;
    } finally {
      refreshing = null;
    }
    if (reply.type === "error") {
      accountBox.replaceChildren(el("p", { class: "err", text: errorText(reply) }));
    } else {
      accountBox.replaceChildren(
        table(
          [{ title: "Cash", key: "cash", num: true }, { title: "Buying power", key: "buying_power", num: true }, { title: "Realized today", key: "realized_today", num: true }, { title: "Realized YTD", key: "realized_ytd", num: true }],
          [reply],
        ),
        el("h3", { text: "Positions" }),
        table(
          [{ title: "Symbol", key: "symbol" }, { title: "Qty", key: "qty", num: true }, { title: "Avg cost", key: "avg_cost", num: true }, { title: "Mark", key: "mark", num: true }, { title: "Unrealized P&L", key: "unrealized", num: true }],
          reply.positions,
        ),
      );
      accountBox.dataset.account = reply.account;
      for (const p of reply.positions) addSymbol(p.symbol);
    }
    if (again) {
      again = false;
      setTimeout(refreshAccount, ACCOUNT_REFRESH_MS);
    }
  }
  accountChoice.addEventListener("change", refreshAccount);
  const known = new Set();
  function addSymbol(symbol) {
    if (!symbol || known.has(symbol)) return;
    known.add(symbol);
    datalist.append(el("option", { value: symbol }));
  }

  // --- quotes ---
  const canvas = el("canvas", { id: "chart" });
  const chart = new QuoteChart(canvas);
  const quoteSymbol = el("input", { id: "quote-symbol", value: "IBM", list: "symbols", size: 8 });
  const quoteLine = el("div", { class: "quote", id: "quote" });
  const quoteError = el("p", { class: "err" });
  const subscribed = new Set();
  async function watch() {
    const symbol = quoteSymbol.value.trim().toUpperCase();
    quoteError.textContent = "";
    chart.reset(symbol);
    quoteLine.replaceChildren();
    if (!symbol) return;
    const reply = await app.conn.request({ op: "subscribe", channels: [`quotes:${symbol}`] });
    if (reply.type === "error") quoteError.textContent = errorText(reply);
    else subscribed.add(symbol);
  }
  quoteSymbol.addEventListener("change", watch);

  let fillsSeen = 0;
  blotter.addEventListener("changed", (event) => {
    orders.invalidate();
    executions.invalidate();
    counts.textContent = `${blotter.orderIds.length} orders · ${blotter.executions.length} reports`;
    fillsSeen += event.detail.fills;
    if (event.detail.fills || event.detail.reports) refreshAccount();
  });
  app.listeners.add((frame) => {
    if (frame.type === "quote") {
      chart.add(frame);
      if (frame.symbol === chart.symbol) {
        const parts = [
          el("span", {}, "bid ", el("b", { text: show(frame.bid) }), ` × ${frame.bid_size}`),
          el("span", {}, "ask ", el("b", { text: show(frame.ask) }), ` × ${frame.ask_size}`),
        ];
        if (frame.nav) parts.push(el("span", {}, "NAV ", el("b", { text: frame.nav })));
        quoteLine.replaceChildren(...parts);
      }
    } else if (mine(frame)) {
      addSymbol(frame.symbol);
    }
  });

  const root = el(
    "div",
    { class: "grid" },
    el("div", { class: "stack" },
      el("div", { class: "panel" }, el("h2", { text: "Order ticket" }), ticket, datalist),
      el("div", { class: "panel" }, el("h2", { text: "Quote" }), el("div", { class: "row" }, quoteSymbol, el("button", { type: "button", text: "Watch", onclick: watch })), quoteLine, quoteError, canvas)),
    el("div", { class: "stack" },
      el("div", { class: "panel" }, el("h2", {}, "Blotter ", showOrders, " ", showExecutions, " ", counts), orders.root, executions.root, blotterNote),
      el("div", { class: "panel" }, el("h2", {}, "Cash, buying power and positions ", accountChoice), accountBox)),
  );
  shape();

  return {
    root,
    shown: () => {
      orders.invalidate();
      executions.invalidate();
      chart.invalidate();
    },
    async subscribe() {
      const symbols = [...subscribed];
      if (!symbols.length) {
        await watch();
        return;
      }
      await app.conn.request({ op: "subscribe", channels: symbols.map((s) => `quotes:${s}`) });
    },
    // every order of every account in reach, page by page (get_orders)
    async resync() {
      const list = accounts.length ? accounts : [accountChoice.value.trim()].filter(Boolean);
      let count = 0;
      for (const account of list) {
        let cursor = null;
        do {
          const reply = await app.conn.request({ op: "get_orders", account, cursor, limit: 1000 });
          if (reply.type === "error") break;
          blotter.resync(reply.orders);
          count += reply.orders.length;
          cursor = reply.next_cursor;
        } while (cursor);
      }
      await refreshAccount();
      return count;
    },
    tables: { orders, executions },
    fills: () => fillsSeen,
  };
}

export { FIELDS };
