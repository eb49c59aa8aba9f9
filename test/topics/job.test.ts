/**
 * The enrich stage's topic job (enrich/topics/job.ts) decides a shutdown's last run from what it stored since the
 * last run: a run whose check of due windows failed (ClickHouse unreachable for a moment) must leave that for the
 * shutdown, which otherwise skipped its run and left the windows of the last batches to some later process.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import type { ClickHouseClient } from '../../core/clickhouse.ts';
import { createTopicJob } from '../../enrich/topics/job.ts';

test("a failed check keeps the shutdown's run: messages stored before it are still refreshed", async () => {
  let checks = 0;
  // Only the check of due windows is asked here (it answers none once it works): the first one fails.
  const client = {
    query: async () => {
      checks++;
      if (checks === 1) throw new Error('connect ECONNREFUSED');
      return { json: async () => [] };
    },
  } as unknown as ClickHouseClient;
  const job = createTopicJob({ client, database: 'twichist', logger: pino({ level: 'silent' }), embedder: () => null });
  job.noteStored([{ table: 'messages', channel: 'somechan', ts: Date.now() }], 5);
  await job.run({ wait: false });
  assert.equal(checks, 1);
  await job.run({ wait: true, ifStored: true });
  assert.equal(checks, 2, 'the shutdown ran its check');
  await job.run({ wait: true, ifStored: true });
  assert.equal(checks, 2, 'nothing stored since: no run');
});
