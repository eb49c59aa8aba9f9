/** Chat imported without Twitch's emotes tag still gets tokens for Twitch's global emotes (bundled set). */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../core/logger.ts';
import { createEmoteSource } from '../../enrich/emotes.ts';

test('bundled Twitch globals tokenize text-only chat, and can be turned off', () => {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-emotes-'));
  const logger = createLogger('silent');
  const on = createEmoteSource({ files: [], cacheDir, online: false, logger });
  const t = on.index.tokens('riotgames', 'BibleThump what a play Kappa PogChamp kappa', []);
  assert.deepEqual(t.names, ['BibleThump', 'Kappa', 'PogChamp']);
  on.close();
  const off = createEmoteSource({ files: [], cacheDir, online: false, logger, bundled: false });
  assert.deepEqual(off.index.tokens('riotgames', 'BibleThump Kappa', []).names, []);
  off.close();
});
