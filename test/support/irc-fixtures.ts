/**
 * Real single IRC lines of the MIT fixture sets in ../shared/data/irc (Chatterino's snapshots, tmi-rs's),
 * by the file they come from, parsed as ingest parses them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChatEvent } from '../../core/events.ts';
import { importFile, type Reject } from '../../ingest/importers/index.ts';
import { parseIrcLine } from '../../ingest/irc-parser.ts';
import { SHARED_DATA } from './paths.ts';

const TSV = path.join(SHARED_DATA, 'irc', 'fixture_lines.tsv');

/** A reason to skip, or false when the lines are there. */
export function ircFixturesMissing(): string | false {
  return fs.existsSync(TSV) ? false : `skipped: ${TSV} is absent (../shared/data is not part of the repo; CI has it)`;
}

/** The events of the lines of these fixture files (`reply-blocked-user.json`, ...), in that order. */
export function fixtureLines(files: string[]): ChatEvent[] {
  const byFile = new Map(
    fs.readFileSync(TSV, 'utf8').split('\n').filter(Boolean).map((l) => [path.basename(l.split('\t')[0]), l.split('\t')[1]] as const),
  );
  return files.map((file) => {
    const line = byFile.get(file);
    assert.ok(line, `${file} is not in ${TSV}`);
    const r = parseIrcLine(line, { receivedAt: Date.UTC(2025, 0, 1), source: 'import' });
    assert.ok(r.ok, file);
    return r.event;
  });
}

/** The events `twichist import` makes of a file `name` holding `text` (format detected as it does); rejects go to `onReject`. */
export async function imported(name: string, text: string, onReject?: (r: Reject) => void): Promise<ChatEvent[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twichist-import-'));
  try {
    fs.writeFileSync(path.join(dir, name), text);
    const out: ChatEvent[] = [];
    await importFile(path.join(dir, name), (e) => void out.push(e), { onReject });
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
