/**
 * `twichist up` end to end, as a user runs it: a child process on a temp data folder and a free
 * API port, no channels, so it replays the bundled sample. Checks the API answers with the data,
 * `twichist sql` and `status` from a second process reach it through the control server, SIGTERM exits 0, and
 * afterwards the stored count equals the sample's message count (counted here from the JSON itself).
 * A second run on the same folder stores nothing twice; a SIGTERM mid-replay loses nothing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import zlib from 'node:zlib';
import { SAMPLE_FILE } from '../../core/runtime.ts';
import { freePort, runCli, startCli, STACK_LINE, tempDir, type CliProcess } from '../cli/harness.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Comments in the v5 rechat file: element 0 is the video's metadata, every other element one chat message. */
function sampleMessageCount(): number {
  const doc = JSON.parse(zlib.gunzipSync(fs.readFileSync(SAMPLE_FILE)).toString('utf8')) as Array<{ _id?: string; message?: { body?: string } }>;
  return new Set(doc.filter((c) => typeof c.message?.body === 'string' && typeof c._id === 'string').map((c) => c._id)).size;
}

async function envFor(dataDir: string): Promise<Record<string, string>> {
  return { TWICHIST_DATA_DIR: dataDir, API_PORT: String(await freePort()), LOG_LEVEL: 'warn' };
}

/** Counts rows with a separate `twichist sql` process (the test process must not lock the folder itself). */
async function count(env: Record<string, string>, query = 'SELECT count() AS n FROM messages'): Promise<number> {
  const r = await runCli(['sql', query, '--format', 'json'], env);
  assert.equal(r.code, 0, `sql failed: ${r.stderr}`);
  return Number((JSON.parse(r.stdout.trim().split('\n')[0]) as { n: number }).n);
}

async function stop(up: CliProcess): Promise<void> {
  up.child.kill('SIGTERM');
  // A shutdown that hangs is a failure, not a test that never ends.
  const timer = setTimeout(() => up.child.kill('SIGKILL'), 90_000);
  const { code, signal } = await up.exited;
  clearTimeout(timer);
  assert.equal(signal, null, `exited by itself, not by signal; stderr:\n${up.stderr()}`);
  assert.equal(code, 0, `exit code 0 after SIGTERM; stderr:\n${up.stderr()}`);
  assert.match(up.stdout(), /stopped cleanly/);
  assert.doesNotMatch(up.stderr(), STACK_LINE);
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  return { status: res.status, body: await res.json() };
}

const expected = sampleMessageCount();
const dataDir = tempDir('up');
dirs.push(dataDir);

test('the bundled sample holds real chat', () => {
  assert.ok(expected > 1000, `sample has ${expected} messages`);
});

test('up replays the sample, serves the API and sql, and stops cleanly on SIGTERM with nothing lost', async () => {
  const env = await envFor(dataDir);
  const up = startCli(['up', '--speed', '150'], env);
  try {
    const [, api] = await up.waitFor(/API docs +(http:\/\/\S+)\/docs/, 120_000);
    assert.match(up.stdout(), /twichist sql "/, 'prints example sql commands');

    const health = await getJson(`${api}/health`);
    assert.equal(health.status, 200, JSON.stringify(health.body));

    const [, published, stored] = await up.waitFor(/replay finished: (\d+) events published, (\d+) messages in ClickHouse/, 180_000);
    assert.equal(Number(published), expected);
    assert.equal(Number(stored), expected);

    // The stats the API serves come from the stored data.
    const channels = await getJson(`${api}/api/v1/channels`);
    assert.equal(channels.status, 200, JSON.stringify(channels.body));
    const items = (channels.body as { items: Array<{ login: string; messages: number }> }).items;
    const nl = items.find((c) => c.login === 'northernlion');
    assert.ok(nl, `northernlion listed: ${JSON.stringify(items)}`);
    assert.equal(Number(nl.messages), expected);
    const stats = await getJson(`${api}/api/v1/channels/northernlion/stats`);
    assert.equal(stats.status, 200, JSON.stringify(stats.body));
    const st = stats.body as { messages: number; chatters: number; emote_uses: number };
    assert.equal(Number(st.messages), expected, 'rollup stats count every message');
    assert.ok(Number(st.chatters) > 100 && Number(st.emote_uses) > 0, JSON.stringify(st));

    // A second process: the folder is locked by `up`, so this goes through its control server.
    assert.ok(fs.existsSync(path.join(dataDir, 'control.json')), 'control.json written while up runs');
    assert.equal(await count(env), expected);
    // `twichist status` asks the control server what only `up` knows: its in-process bus, drained by now.
    const status = await runCli(['status', '--json'], env);
    assert.equal(status.code, 0, status.stdout);
    const said = JSON.parse(status.stdout) as { bus: unknown; clickhouse: { rows: Record<string, number> }; process: { report: { enrich: { acked: number } } } };
    assert.deepEqual(said.bus, { kind: 'in-process', pid: up.child.pid, queued: 0 });
    assert.equal(said.clickhouse.rows.messages, expected);
    assert.ok(said.process.report.enrich.acked > 0, status.stdout);

    // A second long-running process on the same folder is refused with one line, before it opens anything.
    const second = await runCli(['up'], await envFor(dataDir), 60_000);
    assert.notEqual(second.code, 0);
    assert.match(second.stderr.trim(), /^twichist: configuration error: TWICHIST_DATA_DIR: another twichist process \(pid \d+\) is running/);
    assert.equal(second.stderr.trim().split('\n').length, 1);
    assert.ok((await count(env, 'SELECT sum(messages) AS n FROM chat_1m')) === expected, 'rollups hold every message');
  } finally {
    if (up.child.exitCode === null) await stop(up);
  }
  assert.ok(!fs.existsSync(path.join(dataDir, 'control.json')), 'control.json removed on exit');
  // After exit: the folder opened directly by a new process.
  assert.equal(await count(await envFor(dataDir)), expected);
});

test('a second up on the same folder replays again and stores nothing twice', async () => {
  const env = await envFor(dataDir);
  const up = startCli(['up', '--speed', '2000'], env);
  try {
    const [, published, stored] = await up.waitFor(/replay finished: (\d+) events published, (\d+) messages in ClickHouse/, 180_000);
    assert.equal(Number(published), expected);
    assert.equal(Number(stored), expected);
  } finally {
    if (up.child.exitCode === null) await stop(up);
  }
  assert.equal(await count(await envFor(dataDir)), expected);
});

test('SIGTERM in the middle of the replay stores every event published before it', async () => {
  const dir = tempDir('up-mid');
  dirs.push(dir);
  const env = await envFor(dir);
  // 20x: the replay takes ~70 s, so the signal surely lands mid-way.
  const up = startCli(['up', '--speed', '20'], env);
  // A progress line at 5 % or more (cli/progress.ts prints e.g. `replay <file>  12.3%  201 events ...`).
  await up.waitFor(/replay \S+ .*\s(?:[1-9]\d|[5-9])\.\d%/, 180_000);
  await stop(up);
  const [, published] = up.stdout().match(/replay stopped after (\d+) events published/) ?? [];
  assert.ok(published, `reports how far it got:\n${up.stdout()}`);
  assert.ok(Number(published) > 0 && Number(published) < expected, `stopped part-way (${published} of ${expected})`);
  assert.equal(await count(await envFor(dir)), Number(published), 'every published event was stored');
});
