// A JSON-lines command loop between a Node client and the Python test that drives it
// (tests/js_clients/node.py):
//
//   stdin:  {"n": 1, "cmd": "insert", ...arguments}
//   stdout: {"n": 1, "result": ...}  or  {"n": 1, "error": "message and stack"}
//   stdout: {"event": "ready"} once, first
//
// Commands run concurrently; each answers when its promise settles. The process exits
// when stdin closes, after `close()`.
import { createInterface } from "node:readline";
import { firstValueFrom, timeout } from "rxjs";

// Generous: only reached when something is wrong (the Python side waits a little longer).
export const WAIT_MS = 20_000;

const print = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

export function serve(commands) {
  const lines = createInterface({ input: process.stdin });
  lines.on("line", async (line) => {
    const { n, cmd, ...args } = JSON.parse(line);
    try {
      const command = commands[cmd];
      if (!command) throw new Error(`unknown command ${cmd}`);
      print({ n, result: (await command(args)) ?? null });
    } catch (error) {
      print({ n, error: error?.stack ?? String(error) });
    }
  });
  lines.on("close", async () => {
    await commands.close?.();
    process.exit(0);
  });
  print({ event: "ready" });
}

// The first value of `observable`; after WAIT_MS, an error saying what did not come
// (`what()`: a description of what there is instead).
export async function within(observable, what) {
  try {
    return await firstValueFrom(observable.pipe(timeout(WAIT_MS)));
  } catch (error) {
    if (error?.name !== "TimeoutError") throw error;
    throw new Error(`waited ${WAIT_MS} ms: ${what()}`);
  }
}

// Every `extensions.code` found in a (nested, JSON-able) error value.
export function errorCodes(value) {
  const codes = [];
  const walk = (v) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      if (typeof v.extensions?.code === "string") codes.push(v.extensions.code);
      Object.values(v).forEach(walk);
    }
  };
  walk(JSON.parse(JSON.stringify(value ?? null)));
  return codes;
}

// Percentiles of a list of numbers (nearest rank).
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
