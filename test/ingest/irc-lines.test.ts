/**
 * IrcLineSplitter (the live TCP reader's bytes -> lines): every way of cutting the bytes into three
 * reads, including inside a CRLF and inside 3- and 4-byte UTF-8 characters, gives the same lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IrcLineSplitter } from '../../ingest/irc-lines.ts';

test('lines are the same however the bytes are cut into reads (CRLF, LF, empty lines, UTF-8 split)', () => {
  const bytes = Buffer.from('a line\r\nsecond 😀 line\nthird ☕\r\n\r\nlast', 'utf8');
  const want = ['a line', 'second 😀 line', 'third ☕'];
  for (let i = 0; i <= bytes.length; i++) {
    for (let j = i; j <= bytes.length; j++) {
      const s = new IrcLineSplitter();
      const got = [...s.push(bytes.subarray(0, i)), ...s.push(bytes.subarray(i, j)), ...s.push(bytes.subarray(j))];
      assert.deepEqual(got, want, `reads cut at ${i} and ${j}`);
      assert.equal(s.pending, Buffer.byteLength('last'), 'the unfinished line waits');
    }
  }
});
