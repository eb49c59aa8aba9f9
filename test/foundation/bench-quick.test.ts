/**
 * `npm run bench -- --quick` passes `--quick` to every stage script (bench/run.ts). A stage must take
 * it: the enrich stage used to reject it as an unknown option (stage "failed", exit 1) and the
 * analysis stage read it as its repeat count (NaN rounds: 0 messages, a headline of 0). Checks that
 * each runs and measures something, not how fast (speed claims live in bench/, not in tests).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHATTY = path.resolve(ROOT, '..', 'shared', 'data', 'chatty');
const skip = fs.existsSync(CHATTY) ? false : `no ${CHATTY}: the bench stages read the shared chat logs`;

function runStage(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('bench/analysis.ts --quick scores the logs once', { skip }, async () => {
  const r = await runStage(['bench/analysis.ts', '--quick']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { messages: number; msgs_per_s: number; input: string };
  assert.ok(out.messages > 70_000, `one round of every Chatty message, got ${out.messages}`);
  assert.ok(out.msgs_per_s > 0);
  assert.match(out.input, / x 1,/);
});

test('bench/enrich.ts --quick takes the flag (one copy of the log)', { skip }, async () => {
  const r = await runStage(['bench/enrich.ts', '--quick', '--mode', 'single']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { singleProcess: { events: number; stored: unknown } };
  // riotgames1 once: 43,301 messages + 1,900 bans/timeouts.
  assert.equal(out.singleProcess.events, 45_201);
});
