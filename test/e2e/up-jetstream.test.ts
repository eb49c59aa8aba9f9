/**
 * `twichist up` with NATS_URL: the same single process, but events travel through JetStream (a stream,
 * subject prefix and durable consumer unique to this test, deleted after). The replay must be stored
 * completely before `up` reports it finished, SIGTERM must exit 0, and a restart must not store
 * anything twice even though the durable consumer replays nothing new.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { after, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { deleteStream, TEST_NATS_URL, tryConnectNats } from '../support/nats.ts';
import { freePort, runCli, startCli, STACK_LINE, tempDir } from '../cli/harness.ts';

const { nc, reason } = await tryConnectNats();
const tag = `twichist_test_${randomBytes(5).toString('hex')}`;
const dataDir = tempDir('up-js');
after(async () => {
  fs.rmSync(dataDir, { recursive: true, force: true });
  if (nc) {
    await deleteStream(nc, tag.toUpperCase());
    await nc.close();
  }
});

test('up over JetStream stores the replay once and stops cleanly', { skip: nc ? false : `skipped: ${reason}` }, async () => {
  const env = { TWICHIST_DATA_DIR: dataDir, NATS_URL: TEST_NATS_URL, NATS_STREAM: tag.toUpperCase(), NATS_SUBJECT_PREFIX: tag, NATS_CONSUMER: tag, LOG_LEVEL: 'warn' };
  for (let run = 0; run < 2; run++) {
    const up = startCli(['up', '--speed', '1000'], { ...env, API_PORT: String(await freePort()) });
    try {
      await up.waitFor(/bus: NATS JetStream/, 120_000);
      const [, published, stored] = await up.waitFor(/replay finished: (\d+) events published, (\d+) messages in ClickHouse/, 180_000);
      assert.ok(Number(published) > 1000);
      assert.equal(Number(stored), Number(published), `run ${run + 1}: everything published is stored when the replay is reported finished`);
    } finally {
      up.child.kill('SIGTERM');
    }
    const timer = setTimeout(() => up.child.kill('SIGKILL'), 90_000);
    const { code } = await up.exited;
    clearTimeout(timer);
    assert.equal(code, 0, up.stderr());
    assert.doesNotMatch(up.stderr(), STACK_LINE);
  }
  const info = await (await jetstreamManager(nc!)).streams.info(tag.toUpperCase());
  assert.ok(info.state.messages > 0, 'events went through the stream');
  const r = await runCli(['sql', 'SELECT count() AS n, uniqExact(id) AS u FROM messages', '--format', 'json'], { TWICHIST_DATA_DIR: dataDir });
  const row = JSON.parse(r.stdout) as { n: number; u: number };
  assert.equal(row.n, row.u, 'no message stored twice');
});
