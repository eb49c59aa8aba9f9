/** Reads the MIT NLSS_Project v5 rechat VODs for the dev-set samplers (scripts/sample-*.ts). */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const BOTS = new Set(['nightbot', 'moobot', 'revlobot', 'streamelements', 'streamlabs', 'fossabot']);

/** One line per message: newlines/tabs flattened, CTCP ACTION markers dropped. */
export const cleanChat = (s: string): string => s.replace(/[\r\n\t]+/g, ' ').replace(/\u0001(ACTION )?/g, '').trim();

/** Non-bot comments of every `vod-json/v5-rechat/*.json` under `data`, files in name order, cleaned text. */
export function* rechatComments(data: string): Generator<{ text: string; fragments: { emoticon?: unknown }[] }> {
  const rechatDir = join(data, 'vod-json', 'v5-rechat');
  for (const f of readdirSync(rechatDir).sort()) {
    const arr = JSON.parse(readFileSync(join(rechatDir, f), 'utf8')) as any[];
    for (const c of arr.slice(1)) {
      if (BOTS.has(c?.commenter?.name)) continue;
      yield { text: cleanChat(c?.message?.body ?? ''), fragments: c?.message?.fragments ?? [] };
    }
  }
}
