/**
 * Test guard: makes every outbound network call (fetch, http/https requests, raw TCP sockets) fail
 * and records it, to prove that model loading never reaches the network.
 *
 * Use in-process with {@link installNetGuard}, or as a worker preload:
 * `--import=<file URL of this module>?log=<path>` records each attempt as a line in that file
 * (worker threads have their own globals, so a main-thread patch would not see their calls).
 */
import { appendFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

export interface NetGuard {
  calls: string[];
  restore(): void;
}

export function installNetGuard(logFile: string | null = null): NetGuard {
  const calls: string[] = [];
  const record = (what: string): Error => {
    calls.push(what);
    if (logFile) appendFileSync(logFile, what + '\n');
    return new Error(`network access blocked by test guard: ${what}`);
  };
  const saved = {
    fetch: globalThis.fetch,
    httpRequest: http.request,
    httpGet: http.get,
    httpsRequest: https.request,
    httpsGet: https.get,
    connect: net.Socket.prototype.connect,
  };
  globalThis.fetch = (async (input: unknown) => {
    throw record(`fetch ${String(input instanceof Request ? input.url : input)}`);
  }) as typeof fetch;
  const block = (name: string) =>
    ((...args: unknown[]) => {
      throw record(`${name} ${String(args[0] instanceof URL ? args[0].href : typeof args[0] === 'string' ? args[0] : JSON.stringify(args[0]))}`);
    }) as never;
  http.request = block('http.request');
  http.get = block('http.get');
  https.request = block('https.request');
  https.get = block('https.get');
  // Catches anything that bypasses the above (undici's own sockets included).
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    throw record(`net.connect ${JSON.stringify(args[0])}`);
  } as never;
  return {
    calls,
    restore() {
      globalThis.fetch = saved.fetch;
      http.request = saved.httpRequest;
      http.get = saved.httpGet;
      https.request = saved.httpsRequest;
      https.get = saved.httpsGet;
      net.Socket.prototype.connect = saved.connect;
    },
  };
}

// Preload mode: a `log` query parameter on this module's URL installs the guard at import.
const log = new URL(import.meta.url).searchParams.get('log');
if (log !== null) installNetGuard(log);
