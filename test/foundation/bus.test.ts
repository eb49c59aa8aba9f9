/** The in-process bus: the single-machine stand-in for JetStream, with its ack/nak semantics. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeEvents, InProcessBus, splitEventLines, type Delivery } from '../../core/bus.ts';
import { sampleMessage } from '../support/events.ts';

const ev = (id: string) => ({ ...sampleMessage, id });
const withTimeout = <T>(p: Promise<T>, ms = 1000) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no result within ${ms} ms`)), ms))]);

async function next(it: AsyncIterator<Delivery>): Promise<Delivery> {
  const r = await withTimeout(it.next());
  assert.equal(r.done, false);
  return r.value as Delivery;
}

test('publish waits at capacity until a delivery is settled (back-pressure)', async () => {
  const bus = new InProcessBus(2);
  const pub = bus.publisher();
  await pub.publish('c', [ev('a')]);
  await pub.publish('c', [ev('b')]);
  let third = false;
  const p = pub.publish('c', [ev('c')]).then(() => (third = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(third, false, 'the third publish must wait');
  const it = bus.consumer().deliveries()[Symbol.asyncIterator]();
  const d = await next(it);
  await d.ack();
  await withTimeout(p);
  assert.equal(third, true);
});

test('nak redelivers with a higher delivery count; idle() waits for the ack', async () => {
  const bus = new InProcessBus();
  await bus.publisher().publish('c', [ev('a'), ev('b')]);
  const it = bus.consumer().deliveries()[Symbol.asyncIterator]();
  const first = await next(it);
  assert.deepEqual(splitEventLines(first.data).map((l) => JSON.parse(l).id), ['a', 'b']);
  let idle = false;
  const idleP = bus.idle().then(() => (idle = true));
  first.nak(10);
  const again = await next(it);
  assert.equal(again.seq, first.seq);
  assert.equal(again.deliveryCount, 2);
  assert.equal(idle, false, 'not idle while a delivery is owed');
  await again.ack();
  await withTimeout(idleP);
  assert.equal(bus.depth, 0);
});

test('a stopped consumer does not take the wake-up meant for a live one', async () => {
  const bus = new InProcessBus();
  const a = bus.consumer();
  const b = bus.consumer();
  const ia = a.deliveries()[Symbol.asyncIterator]();
  const ib = b.deliveries()[Symbol.asyncIterator]();
  const pa = ia.next();
  const pb = ib.next();
  await new Promise((r) => setTimeout(r, 10)); // both are waiting for a publish
  await a.stop();
  assert.equal((await withTimeout(pa)).done, true);
  await bus.publisher().publish('c', [ev('x')]);
  const r = await withTimeout(pb);
  assert.equal(r.done, false);
  assert.equal(JSON.parse(splitEventLines((r.value as Delivery).data)[0]).id, 'x');
});

test('a delivery carries the published objects, copied from the array, and their NDJSON on demand', async () => {
  const bus = new InProcessBus();
  const events = [ev('a'), ev('b')];
  await bus.publisher().publish('c', events);
  events.length = 0; // a publisher reusing its array does not change what was published
  const d = await next(bus.consumer().deliveries()[Symbol.asyncIterator]());
  assert.deepEqual(d.events?.map((e) => (e as { id: string }).id), ['a', 'b']);
  assert.equal(d.data, encodeEvents([ev('a'), ev('b')]));
  await d.ack();
});
