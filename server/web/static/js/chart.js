// A live price chart on a canvas: bid, ask and mid of one symbol, redrawn at most once per
// animation frame. Prices arrive as decimal strings; they are turned into numbers only to
// place pixels (the values shown as text stay the server's strings).

const POINTS = 600; // points kept per symbol

export class QuoteChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.points = [];
    this.scheduled = false;
    this.symbol = "";
  }

  reset(symbol) {
    this.symbol = symbol;
    this.points = [];
    this.invalidate();
  }

  add(quote) {
    if (quote.symbol !== this.symbol) return;
    const bid = quote.bid === null ? NaN : Number(quote.bid);
    const ask = quote.ask === null ? NaN : Number(quote.ask);
    const nav = quote.nav === undefined ? NaN : Number(quote.nav);
    this.points.push({ bid, ask, mid: Number.isNaN(nav) ? (bid + ask) / 2 : nav });
    if (this.points.length > POINTS) this.points.splice(0, this.points.length - POINTS);
    this.invalidate();
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
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth * ratio;
    const height = canvas.clientHeight * ratio;
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, width, height);
    const values = this.points.flatMap((p) => [p.bid, p.ask, p.mid]).filter((v) => Number.isFinite(v));
    if (values.length < 2) {
      g.fillStyle = "#888";
      g.font = `${12 * ratio}px system-ui`;
      g.fillText(this.symbol ? `waiting for quotes of ${this.symbol}` : "choose a symbol", 10 * ratio, 20 * ratio);
      return;
    }
    let low = Math.min(...values);
    let high = Math.max(...values);
    if (high === low) {
      high += 0.5;
      low -= 0.5;
    }
    const pad = 18 * ratio;
    const x = (i) => pad + ((width - 2 * pad) * i) / Math.max(1, POINTS - 1);
    const y = (v) => height - pad - ((height - 2 * pad) * (v - low)) / (high - low);
    const line = (key, color) => {
      g.strokeStyle = color;
      g.lineWidth = ratio;
      g.beginPath();
      let started = false;
      this.points.forEach((p, i) => {
        if (!Number.isFinite(p[key])) return;
        if (started) g.lineTo(x(i), y(p[key]));
        else g.moveTo(x(i), y(p[key]));
        started = true;
      });
      g.stroke();
    };
    line("bid", "#1b7f3b");
    line("ask", "#b3261e");
    line("mid", "#1f5fbf");
    g.fillStyle = "#555";
    g.font = `${11 * ratio}px system-ui`;
    g.fillText(high.toFixed(2), 2, pad);
    g.fillText(low.toFixed(2), 2, height - 4);
  }
}
