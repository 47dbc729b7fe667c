// A hybrid logical clock, stamping fields the way the server does (replication/clocks.py):
// `<ms:12 hex><counter:4 hex><node>`, so that string order is (time, counter, node). It
// observes every stamp the feed brings, so an edit made after seeing another edit carries
// the greater stamp even when this machine's clock is behind the server's.

const MAX_DRIFT_MS = 3_600_000;
const STAMP = /^[0-9a-f]{16}/;

export function randomHex(bytes) {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buffer, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class HybridLogicalClock {
  constructor(node = randomHex(4)) {
    this.node = node;
    this.ms = 0;
    this.counter = 0;
  }

  now() {
    const wall = Date.now();
    if (wall > this.ms) {
      this.ms = wall;
      this.counter = 0;
    } else if (++this.counter > 0xffff) {
      this.ms += 1;
      this.counter = 0;
    }
    return this.ms.toString(16).padStart(12, "0") + this.counter.toString(16).padStart(4, "0") + this.node;
  }

  /** Move past every well-formed stamp (a stamp far in the future is ignored). */
  observe(stamps) {
    for (const stamp of stamps) {
      if (typeof stamp !== "string" || !STAMP.test(stamp)) continue;
      const ms = parseInt(stamp.slice(0, 12), 16);
      const counter = parseInt(stamp.slice(12, 16), 16);
      if (ms > Date.now() + MAX_DRIFT_MS) continue;
      if (ms > this.ms || (ms === this.ms && counter > this.counter)) {
        this.ms = ms;
        this.counter = counter;
      }
    }
  }
}
