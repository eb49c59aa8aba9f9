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
/**
 * The channel of a GQL export from the downloader's `<channel>/<date>_<vod id>/` folders, or null. Only when the parent
 * folder names the comments' VOD (`contentId`): any file two folders deep was read as chat of the grandparent folder
 * before (`/tmp/x/chat.json` stored 3,700 messages as channel "tmp", with no word in the summary).
 */
function channelFromFolders(file: string): (contentId: string | null) => string | null {
  const vodDir = path.dirname(path.resolve(file));
  const name = path.basename(path.dirname(vodDir)).toLowerCase();
  const vod = path.basename(vodDir);
  return (contentId) => (contentId !== null && /^\d+$/.test(contentId) && (vod === contentId || vod.endsWith(`_${contentId}`)) && /^[a-z0-9_]{3,25}$/.test(name) ? name : null);
}

/**
 * When the VOD of a GQL export started, from the `vod.json` a downloader keeps beside it (`vod_id`, `created_at`), or
 * null: only for the VOD it names, so a stray vod.json does not time another VOD's chat.
 */
function vodStartFromFolder(file: string): (contentId: string | null) => number | null {
  let meta: { id: string | null; start: number | null } | undefined;
  return (contentId) => {
    if (meta === undefined) {
      meta = { id: null, start: null };
      try {
        const v: unknown = JSON.parse(fs.readFileSync(path.join(path.dirname(path.resolve(file)), 'vod.json'), 'utf8'));
        if (typeof v === 'object' && v !== null) {
          const { vod_id: id, created_at: at } = v as Record<string, unknown>;
          // without a zone UTC, as Twitch writes it ("...Z"): Date.parse would read the machine's zone
          const start = typeof at === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(at) ? Date.parse(/(Z|[+-]\d\d:?\d\d)$/.test(at) ? at : `${at}Z`) : NaN;
          meta = { id: typeof id === 'string' || typeof id === 'number' ? String(id) : null, start: Number.isFinite(start) ? start : null };
        }
      } catch {
        // no vod.json, or not one: the importer estimates the start and says so in the summary
      }
    }
    return contentId !== null && meta.id === contentId ? meta.start : null;
  };
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
        await importVodJson(input.text, file, format, sink, opts, stats, format === 'gql' ? channelFromFolders(file) : () => null, vodStartFromFolder(file));
    }
  } catch (err) {
    // what was read before the break (published, rejected) stays counted in the import's summary
    (err as Error & { stats?: ImportStats }).stats = stats;
    throw err;
  } finally {
    input.text.destroy();
  }
  return stats;
}

/**
 * Files to import under `target`: the file itself, or every file below a directory (sorted, recursive, symbolic
 * links followed, each real file and folder once), skipping the ones whose content is not a chat format (e.g. a
 * VOD's `vod.json`). `failed`: entries that cannot be read (a broken link, a pipe, an unreadable or corrupt file),
 * with the reason; the import reports them and exits non-zero instead of calling them "not a chat format".
 */
export async function listImportFiles(target: string): Promise<{ files: Array<{ file: string; format: ImportFormat }>; skipped: string[]; failed: Array<{ file: string; error: string }> }> {
  // Node's own wording ("ENOENT: no such file or directory, stat '...'") was all `twichist import` printed.
  const st = await fs.promises.stat(target).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `${target}: no such file or folder` : `${target}: cannot read it (${err.message})`);
  });
  const all: string[] = [];
  const failed: Array<{ file: string; error: string }> = [];
  if (st.isDirectory()) {
    // Links were not followed before, and a linked file was neither imported nor reported. Following them needs
    // the real paths seen, so a link loop ends and a file linked twice is read once.
    const seen = new Set<string>();
    const walk = async (dir: string) => {
      const real = await fs.promises.realpath(dir);
      if (seen.has(real)) return;
      seen.add(real);
      const listed = await fs.promises.readdir(dir, { withFileTypes: true }).catch((err: Error) => err);
      if (listed instanceof Error) {
        failed.push({ file: dir, error: `cannot list the folder: ${listed.message}` });
        return;
      }
      const entries = listed.sort((a, b) => a.name.localeCompare(b.name));
      for (const e of entries) {
        const p = path.join(dir, e.name);
        let isDir = e.isDirectory();
        let isFile = e.isFile();
        if (e.isSymbolicLink()) {
          const t = await fs.promises.stat(p).catch((err: Error) => err);
          if (t instanceof Error) {
            failed.push({ file: p, error: `broken symbolic link (${t.message})` });
            continue;
          }
          isDir = t.isDirectory();
          isFile = t.isFile();
        }
        if (isDir) await walk(p);
        else if (!isFile) failed.push({ file: p, error: 'not a regular file (a pipe, socket or device)' });
        else {
          const r = await fs.promises.realpath(p);
          if (seen.has(r)) continue;
          seen.add(r);
          all.push(p);
        }
      }
    };
    await walk(target);
  } else all.push(target);
  const files: Array<{ file: string; format: ImportFormat }> = [];
  const skipped: string[] = [];
  for (const f of all) {
    let format: ImportFormat | null;
    try {
      format = await detectFormat(f);
    } catch (err) {
      failed.push({ file: f, error: `cannot read: ${(err as Error).message}` });
      continue;
    }
    if (format === null) skipped.push(f);
    else files.push({ file: f, format });
  }
  return { files, skipped, failed };
}
