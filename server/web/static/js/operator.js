// The operator's view, over admin commands (docs/admin.md): every actor's status, halt and
// resume, the kill switch, cancel-all, the open, blocks, reconcile, venues and the drop copy.
// Every command that changes something asks for confirmation first.

import { el, errorText, show, table } from "./util.js";
import { confirmAction } from "./main.js";

const STATUS_REFRESH_MS = 5000;

export function operatorView(app) {
  const note = el("p", { id: "operator-result", role: "status" });
  const statusBox = el("div", { id: "operator-status" });
  const venuesBox = el("div", { id: "operator-venues" });
  const blocksBox = el("div", { id: "operator-blocks" });
  const reconcileBox = el("div", { id: "operator-reconcile" });
  let timer = null;

  async function admin(command, args, destructive) {
    if (destructive && !(await confirmAction(`Run "${[command, ...args].join(" ")}"?`))) {
      note.textContent = "Not run.";
      note.className = "muted";
      return null;
    }
    let reply;
    try {
      reply = await app.conn.request({ op: "admin", command, args });
    } catch (error) {
      note.textContent = `${command}: not sent (${error.message})`;
      note.className = "err";
      return null;
    }
    if (reply.type === "error") {
      note.textContent = `${command}: ${errorText(reply)}`;
      note.className = "err";
      return null;
    }
    note.textContent = `${command}: ${JSON.stringify(reply.result)}`;
    note.className = "ok";
    return reply.result;
  }

  async function status() {
    let reply;
    try {
      reply = await app.conn.request({ op: "admin", command: "status", args: [] });
    } catch {
      return;
    }
    if (reply.type === "error") {
      statusBox.replaceChildren(el("p", { class: "err", text: errorText(reply) }));
      return;
    }
    const result = reply.result;
    const actors = result.actors;
    statusBox.replaceChildren(
      el("p", {}, `halted: ${result.halted.join(", ") || "none"} · killed: ${result.killed.join(", ") || "none"}`),
      table(
        [
          { title: "Actor", key: "name" }, { title: "Applied", key: "applied", num: true }, { title: "Errors", key: "errors", num: true },
          { title: "Journal", key: "journal_seq", num: true }, { title: "Snapshot", key: "snapshot_seq", num: true },
          { title: "Unacked", key: "unacked_batches", num: true }, { title: "Hop p99 ms", key: "hop_ms_p99", num: true },
          { title: "Restarts", key: "restarts", num: true }, { title: "Conns", key: "connections", num: true },
          { title: "Replayed", get: (a) => (a.recovered && a.recovered.records !== undefined ? `${a.recovered.records} rec, ${a.recovered.seconds} s` : null) },
        ],
        actors,
      ),
    );
    const venues = actors.filter((a) => a.name.startsWith("venue-") || a.name === "drop-copy");
    venuesBox.replaceChildren(
      venues.length
        ? table([{ title: "Actor", key: "name" }, { title: "Session", key: "session" }, { title: "Open children", key: "open_children", num: true }, { title: "FIX", get: (a) => show(a.fix) }, { title: "Fills copied", key: "fills_copied", num: true }], venues)
        : el("p", { class: "muted", text: "No venue or drop copy actor." }),
    );
    if (!venues.some((a) => a.name === "drop-copy")) venuesBox.append(el("p", { class: "muted", text: "The clearing drop copy is off ([drop_copy] enabled = false)." }));
  }

  const symbol = el("input", { id: "op-symbol", placeholder: "IBM", size: 8 });
  const account = el("input", { id: "op-account", placeholder: "A1 or all", size: 8 });
  const cancelAccount = el("input", { id: "op-cancel-account", placeholder: "account", size: 8 });
  const cancelSymbol = el("input", { id: "op-cancel-symbol", placeholder: "symbol", size: 8 });
  const openSymbols = el("input", { id: "op-open-symbols", placeholder: "all, or IBM AAPL", size: 14 });
  const reconcileFile = el("input", { id: "op-reconcile-file", placeholder: "positions.csv (in the import dir)", size: 28 });
  const button = (id, text, run, danger) => el("button", { type: "button", id, class: danger ? "danger" : undefined, text, onclick: run });
  const words = (input) => input.value.trim().split(/\s+/).filter(Boolean);

  const root = el(
    "div",
    { class: "stack" },
    el("div", { class: "panel" }, el("h2", {}, "Every actor ", button("op-refresh", "Refresh", status)), statusBox),
    el("div", { class: "panel" }, el("h2", { text: "Controls" }),
      el("div", { class: "row" }, symbol, button("op-halt", "Halt", () => admin("halt", words(symbol), true).then(status), true), button("op-resume", "Resume", () => admin("resume", words(symbol), true).then(status))),
      el("div", { class: "row" }, account, button("op-kill", "Kill switch on", () => admin("kill", words(account), true).then(status), true), button("op-unkill", "Kill switch off", () => admin("unkill", words(account), true).then(status))),
      el("div", { class: "row" }, cancelAccount, cancelSymbol, button("op-cancel-all", "Cancel all", () => {
        const args = [];
        if (cancelAccount.value.trim()) args.push("--account", cancelAccount.value.trim());
        if (cancelSymbol.value.trim()) args.push("--symbol", cancelSymbol.value.trim());
        return admin("cancel-all", args, true);
      }, true)),
      el("div", { class: "row" }, openSymbols, button("op-open", "Run the open", () => admin("open", words(openSymbols).filter((w) => w !== "all"), true), true)),
      note),
    el("div", { class: "panel" }, el("h2", {}, "Blocks ", button("op-blocks", "Show", async () => {
      const result = await admin("blocks", [], false);
      if (result) blocksBox.replaceChildren(table(["block_id", "symbol", "side", "orders", "routed", "fill_qty", "price", "venue"].map((k) => ({ title: k, key: k })), result.blocks || []));
    })), blocksBox),
    el("div", { class: "panel" }, el("h2", { text: "Reconcile" }), el("div", { class: "row" }, reconcileFile, button("op-reconcile", "Reconcile", async () => {
      const result = await admin("reconcile", words(reconcileFile), false);
      if (result) reconcileBox.replaceChildren(el("p", { text: `${result.breaks_found} breaks over ${result.accounts} accounts` }), table(["kind", "account", "symbol", "ours", "theirs"].map((k) => ({ title: k, key: k })), result.breaks || []));
    })), reconcileBox),
    el("div", { class: "panel" }, el("h2", { text: "Venues and the drop copy session" }), venuesBox),
  );
  return {
    root,
    shown: () => {
      status();
      if (!timer) timer = setInterval(() => { if (!root.closest("section").hidden) status(); }, STATUS_REFRESH_MS);
    },
  };
}
