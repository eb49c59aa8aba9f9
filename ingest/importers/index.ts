/**
 * Importers: format detected from the content (first 64 KB, decompressed), never from the file name.
 * Every importer streams (gzip included), emits the same events as live ingest with `source: 'import'`,
 * uses Twitch's ids where the format has them and deterministic ids otherwise (re-import = same ids),
 * and reports bad lines/records through `onReject` with `file:line` and carries on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { importChatty, isChattyContent } from './chatty.ts';
import { openInput, peekText } from './input.ts';
import { importJustlogText, isJustlogContent } from './justlog-text.ts';
import { importRawIrc } from './raw-irc.ts';
import type { EventSink, ImportFormat, ImportOptions, ImportStats } from './types.ts';
import { newStats } from './types.ts';
import { detectVodJson, importVodJson } from './vod-json.ts';

export type { EventSink, ImportFormat, ImportOptions, ImportStats, Reject } from './types.ts';

const IRC_LINE = /^(\[[^\]]{10,35}\] |\d{4}-\d\d-\d\dT\S+ )?(@\S+ )?:\S+ (PRIVMSG|CLEARCHAT|CLEARMSG|USERNOTICE|ROOMSTATE|NOTICE|JOIN|PART|\d{3}|CAP|USERSTATE|GLOBALUSERSTATE|HOSTTARGET|WHISPER) /m;

/** The format of `head` (decoded, BOM stripped), or null when it is none of the supported ones. */
export function detectFormatFromText(head: string): ImportFormat | null {
  const json = detectVodJson(head);
  if (json !== null) return json;
  const t = head.trimStart();
  if (t.startsWith('[') && /^\s*\[\s*[{\]]/.test(t)) return null; // a JSON array of something else
  if (isChattyContent(head)) return 'chatty';
  if (isJustlogContent(head)) return 'justlog';
  if (IRC_LINE.test(head)) return 'raw-irc';
  return null;
}

export async function detectFormat(file: string): Promise<ImportFormat | null> {
  return detectFormatFromText(await peekText(file));
}

/** GQL exports do not name their channel; downloaders store them under `<channel>/<date_vodid>/`. */
function channelFromFolders(file: string): string | null {
  const name = path.basename(path.dirname(path.dirname(path.resolve(file)))).toLowerCase();
  return /^[a-z0-9_]{3,25}$/.test(name) ? name : null;
}

/** Imports one file; throws only when the file cannot be read or its format is unknown. */
export async function importFile(file: string, sink: EventSink, opts: ImportOptions = {}): Promise<ImportStats> {
  const format = await detectFormat(file);
  if (format === null) throw new Error(`${file}: not a supported chat format (raw IRC, Chatty, justlog/rustlog text, GQL, v5 rechat, TwitchDownloader JSON)`);
  const stats = newStats(file, format);
  const input = await openInput(file);
  opts.onOpen?.(input.progress, format);
  try {
    switch (format) {
      case 'raw-irc':
        await importRawIrc(input.text, file, sink, opts, stats);
        break;
      case 'chatty':
        await importChatty(input.text, file, sink, opts, stats);
        break;
      case 'justlog':
        await importJustlogText(input.text, file, sink, opts, stats);
        break;
      default:
        await importVodJson(input.text, file, format, sink, opts, stats, format === 'gql' ? channelFromFolders(file) : null);
    }
  } finally {
    input.text.destroy();
  }
  return stats;
}

/**
 * Files to import under `target`: the file itself, or every regular file below a directory (sorted,
 * recursive), skipping the ones whose content is not a chat format (e.g. a VOD's `vod.json`).
 */
export async function listImportFiles(target: string): Promise<{ files: Array<{ file: string; format: ImportFormat }>; skipped: string[] }> {
  const st = await fs.promises.stat(target);
  const all: string[] = [];
  if (st.isDirectory()) {
    const walk = async (dir: string) => {
      const entries = (await fs.promises.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
      for (const e of entries) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.isFile()) all.push(p);
      }
    };
    await walk(target);
  } else all.push(target);
  const files: Array<{ file: string; format: ImportFormat }> = [];
  const skipped: string[] = [];
  for (const f of all) {
    const format = await detectFormat(f).catch(() => null);
    if (format === null) skipped.push(f);
    else files.push({ file: f, format });
  }
  return { files, skipped };
}
