/**
 * Speed of createAnalyzer().analyze() (sentiment + toxicity + moderation risk) over real chat.
 * Prints JSON: { name, msgs_per_s, messages, machine: { cores, node }, ... }.
 *
 * Input: every chat message of the Chatty logs in ../shared/data (riotgames1 and 5 other channels,
 * ~80k messages), replayed MULTIPLY times with timestamps shifted by the log span each round so the
 * moderation state sees a continuing stream. One thread.
 *
 *   node bench/analysis.ts [multiply=5] [--quick]   (--quick: multiply 1, as `npm run bench -- --quick` passes it)
 */
import { existsSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAnalyzer } from '../enrich/analysis/index.ts';
import { readChatty } from '../enrich/eval/chatty.ts';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const data = resolve(repoRoot, '..', 'shared', 'data', 'chatty');
if (!existsSync(data)) {
  console.log(JSON.stringify({ name: 'analysis', skipped: `no ${data}` }));
  process.exit(0);
}
// bench/run.ts passes `--quick` to every stage: read as a count it was NaN rounds, 0 messages, a 0 headline.
const countArg = process.argv.slice(2).find((a) => !a.startsWith('--'));
const multiply = process.argv.includes('--quick') ? 1 : Number(countArg ?? 5);
if (!(Number.isInteger(multiply) && multiply > 0)) throw new Error(`multiply must be a positive whole number, not '${countArg}'`);
const msgs: { channel: string; login: string; text: string; ts: number }[] = [];
for (const ch of readdirSync(data).sort()) {
  for (const f of readdirSync(join(data, ch)).sort()) {
    for (const e of readChatty(join(data, ch, f))) if (e.kind === 'msg') msgs.push({ channel: ch, login: e.user, text: e.text, ts: e.ts });
  }
}
msgs.sort((a, b) => a.ts - b.ts);
const span = msgs[msgs.length - 1].ts - msgs[0].ts + 1;
const analyzer = createAnalyzer();
const emoteNames: string[] = [];
let sink = 0;
// warm-up: JIT and lexicon maps
for (let i = 0; i < Math.min(20_000, msgs.length); i++) {
  const m = msgs[i];
  sink += analyzer.analyze({ channel: m.channel, userId: null, login: m.login, text: m.text, ts: m.ts - span, emoteNames }).modRisk;
}
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
let n = 0;
for (let r = 0; r < multiply; r++) {
  const shift = r * span;
  for (const m of msgs) {
    const res = analyzer.analyze({ channel: m.channel, userId: null, login: m.login, text: m.text, ts: m.ts + shift, emoteNames });
    sink += res.sentiment + res.modRisk;
    n++;
  }
}
const sec = Number(process.hrtime.bigint() - t0) / 1e9;
const cu = process.cpuUsage(c0);
// CPU time of this (single-threaded) process: robust when other jobs share the machine
const cpuSec = (cu.user + cu.system) / 1e6;
console.log(JSON.stringify({
  name: 'analysis',
  msgs_per_s: Math.round(n / cpuSec),
  msgs_per_wall_s: Math.round(n / sec),
  note: 'msgs_per_s is per CPU-second of this one thread (process.cpuUsage, includes GC); msgs_per_wall_s depends on machine load',
  messages: n,
  input: `${msgs.length} Chatty messages (6 channels) x ${multiply}, timestamps shifted per round`,
  seconds: Math.round(sec * 1000) / 1000,
  cpu_seconds: Math.round(cpuSec * 1000) / 1000,
  machine: { cores: cpus().length, node: process.version },
  checksum: Math.round(sink),
}));
