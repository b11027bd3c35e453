// One WebSocket to this page's own origin, with requests matched to replies by id.
// Emits "frame" for every message that answers no pending request (executions, quotes,
// transfers) and "state" when the link opens, is lost or is closed for good.

export class Conn extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, many, replies}
    this.state = "idle";
  }

  setState(state, detail = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...detail } }));
  }

  open() {
    return new Promise((resolve, reject) => {
      this.setState("connecting");
      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch (error) {
        reject(error);
        return;
      }
      this.ws = ws;
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this.setState("open");
        resolve();
      };
      ws.onmessage = (event) => this.onMessage(event.data);
      ws.onclose = (event) => {
        if (this.ws !== ws) return;
        this.ws = null;
        this.failPending(event.reason || "the connection was lost");
        if (!opened) reject(new Error("cannot reach the server"));
        this.setState("lost", { code: event.code, reason: event.reason, wasOpen: opened });
      };
    });
  }

  close() {
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "logged out");
    this.failPending("logged out");
    this.setState("closed");
  }

  failPending(reason) {
    for (const [, waiter] of this.pending) waiter.reject(new Error(reason));
    this.pending.clear();
  }

  // The page logs in with batch (docs/protocol.md, "Batched frames"): a frame is an array of
  // messages, each handled as if it had come alone; a frame before the login is one object.
  onMessage(text) {
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.dispatchEvent(new CustomEvent("problem", { detail: "the server sent a frame that is not JSON" }));
      return;
    }
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) this.onOne(message);
  }

  onOne(message) {
    const waiter = message.id === undefined ? undefined : this.pending.get(message.id);
    if (waiter) {
      if (waiter.many) {
        waiter.replies.push(message);
        if (waiter.replies.length >= waiter.many || (message.type === "error" && message.client_order_id === undefined)) {
          this.pending.delete(message.id);
          waiter.resolve(waiter.replies);
        }
      } else {
        this.pending.delete(message.id);
        waiter.resolve(message);
      }
      // an answer that is also an execution report still updates the blotter
      if (message.type === "execution") this.dispatchEvent(new CustomEvent("frame", { detail: message }));
      return;
    }
    this.dispatchEvent(new CustomEvent("frame", { detail: message }));
  }

  // Send one request; resolves with its reply (an error reply resolves too: look at .type).
  // many: how many replies to collect (new_orders answers once per order).
  request(body, many = 0) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error("not connected"));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, many, replies: [] });
      this.ws.send(JSON.stringify({ ...body, id }));
    });
  }
}

export function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/`;
}
