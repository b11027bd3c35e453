// The blotter's data: every order's latest report (by order id) and every execution report,
// as they come. Reports are queued and applied once per animation frame, so a burst of
// thousands costs one redraw.

export class Blotter extends EventTarget {
  constructor() {
    super();
    this.orders = new Map(); // order_id -> latest report
    this.orderIds = []; // arrival order; shown newest first
    this.executions = []; // every report, arrival order; shown newest first
    this.queue = [];
    this.scheduled = false;
  }

  ingest(report) {
    this.queue.push(report);
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    let fills = 0;
    for (const report of batch) this.apply(report, true) && (fills += 1);
    this.dispatchEvent(new CustomEvent("changed", { detail: { reports: batch.length, fills } }));
  }

  // keep: record the report as an execution too (a query's current state is not one)
  apply(report, keep) {
    if (keep) this.executions.push(report);
    if (!report.order_id) return false; // a duplicate's rejection: no order
    if (!this.orders.has(report.order_id)) this.orderIds.push(report.order_id);
    const known = this.orders.get(report.order_id);
    if (!known || (report.ts || 0) >= (known.ts || 0) || keep) this.orders.set(report.order_id, report);
    return report.exec_type === "trade";
  }

  // After a reconnect: the orders as the server holds them now (get_orders)
  resync(reports) {
    for (const report of reports) this.apply(report, false);
    this.dispatchEvent(new CustomEvent("changed", { detail: { reports: 0, fills: 0 } }));
  }

  order(index) {
    return this.orders.get(this.orderIds[this.orderIds.length - 1 - index]);
  }

  execution(index) {
    return this.executions[this.executions.length - 1 - index];
  }

  clear() {
    this.orders.clear();
    this.orderIds = [];
    this.executions = [];
  }
}
