// A virtualised table: only the rows in view (plus a margin) exist in the DOM, drawn from a
// pool of row elements, so 100,000 rows scroll like 30. Redrawn at most once per animation
// frame, whatever the number of scroll events or data changes in between.

import { el } from "./util.js";

const OVERSCAN = 8; // rows drawn beyond each edge of the view

export class VTable {
  // columns: [{title, width, get(row) -> text, cls(row) -> class, action: {label, name, when(row)}}]
  constructor(columns, { rowHeight = 24, count = () => 0, row = () => null, onAction = null, name = "" } = {}) {
    this.columns = columns;
    this.rowHeight = rowHeight;
    this.count = count;
    this.row = row;
    this.onAction = onAction;
    this.head = el("div", { class: "vt-head" }, columns.map((c) => el("span", { style: `width:${c.width}px`, text: c.title })));
    this.spacer = el("div", { class: "vt-spacer" });
    this.root = el("div", { class: "vt", "data-table": name }, this.head, this.spacer);
    this.pool = [];
    this.scheduled = false;
    this.drawn = 0; // frames drawn (tests measure against it)
    this.lastDrawMs = 0;
    this.root.addEventListener("scroll", () => this.invalidate(), { passive: true });
    this.root.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button || !this.onAction) return;
      const index = Number(button.closest(".vt-row").dataset.index);
      this.onAction(button.dataset.action, this.row(index), index);
    });
  }

  invalidate() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.draw();
    });
  }

  draw() {
    const started = performance.now();
    const total = this.count();
    const height = this.rowHeight;
    this.spacer.style.height = `${total * height}px`;
    const viewport = this.root.clientHeight || 320;
    const first = Math.max(0, Math.floor(this.root.scrollTop / height) - OVERSCAN);
    const last = Math.min(total, Math.ceil((this.root.scrollTop + viewport) / height) + OVERSCAN);
    const needed = last - first;
    while (this.pool.length < needed) {
      const cells = this.columns.map((c) => el("span", { style: `width:${c.width}px` }));
      const node = el("div", { class: "vt-row", style: `height:${height}px` }, cells);
      this.pool.push({ node, cells });
      this.spacer.append(node);
    }
    for (let i = 0; i < this.pool.length; i += 1) {
      const slot = this.pool[i];
      if (i >= needed) {
        slot.node.hidden = true;
        continue;
      }
      const index = first + i;
      const row = this.row(index);
      slot.node.hidden = false;
      slot.node.dataset.index = String(index);
      slot.node.style.transform = `translateY(${index * height}px)`;
      this.columns.forEach((column, c) => {
        const cell = slot.cells[c];
        if (column.action) {
          const shown = row && column.action.some((a) => !a.when || a.when(row));
          const key = shown ? column.action.filter((a) => !a.when || a.when(row)).map((a) => a.name).join(",") : "";
          if (cell.dataset.key !== key) {
            cell.dataset.key = key;
            cell.replaceChildren(
              ...(shown ? column.action.filter((a) => !a.when || a.when(row)).map((a) => el("button", { type: "button", "data-action": a.name, text: a.label })) : []),
            );
          }
          return;
        }
        const text = row ? column.get(row) : "";
        if (cell.textContent !== text) cell.textContent = text;
        const cls = column.cls && row ? column.cls(row) : "";
        if (cell.className !== cls) cell.className = cls;
      });
    }
    this.drawn += 1;
    this.lastDrawMs = performance.now() - started;
  }
}
