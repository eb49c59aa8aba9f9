/**
 * Terms of a chat message and class-based TF-IDF (c-TF-IDF, as in BERTopic): a class is a group of
 * messages (a time window, or a topic), and a term scores high when it is frequent in its class
 * and rare across all classes.
 */
import { createRequire } from 'node:module';

// natural's files, not its index: the index pulls in wordnet and dotenv, which costs ~0.8 s at import
// and loads a `.env` file of the working directory into process.env (configuration must come only
// from core/config.ts), printing a line to stdout
const require = createRequire(import.meta.url);
const AggressiveTokenizer = require('natural/lib/natural/tokenizers/aggressive_tokenizer.js') as new () => { tokenize(text: string): string[] };
const naturalStopwords = (require('natural/lib/natural/util/stopwords.js') as { words: string[] }).words;

const tokenizer = new AggressiveTokenizer();

/** Filler that natural's English list lacks but chat is full of; kept short to stay predictable. */
const CHAT_STOPWORDS = ['im', 'u', 'ur', 'ya', 'yeah', 'yes', 'no', 'oh', 'ok', 'okay', 'just', 'like', 'get', 'got', 'dont', 'its', 'thats', 'can', 'will', 'one', 'now', 'really', 'even', 'still', 'much', 'would', 'could', 'think', 'know', 'go', 'going'];

export const STOPWORDS: ReadonlySet<string> = new Set([...naturalStopwords, ...CHAT_STOPWORDS]);

/**
 * The distinct terms of one message. Emotes (from the message's emote_names) are kept as written,
 * since `LUL` and `lul` are different emotes; other words are lowercased, stopwords, numbers,
 * contractions, links and @mentions dropped. Distinct, so one spammed line counts once.
 */
export function messageTerms(text: string, emoteNames: readonly string[] = [], stopwords: ReadonlySet<string> = STOPWORDS): string[] {
  const emotes = new Set(emoteNames);
  const out = new Set<string>(emoteNames);
  const cleaned = text.replace(/https?:\/\/\S+|www\.\S+/gi, ' ').replace(/@\w+/g, ' ');
  for (const raw of tokenizer.tokenize(cleaned)) {
    if (emotes.has(raw)) continue;
    const w = raw.toLowerCase();
    if (w.length < 2 || w.includes("'") || /^\d+$/.test(w) || stopwords.has(w)) continue;
    out.add(w);
  }
  return [...out];
}

export interface WeightedTerm {
  term: string;
  weight: number;
}

/**
 * c-TF-IDF over classes, each a list of per-message term lists. Weight of term t in class c:
 * tf(t, c) / |c| * log(1 + A / f(t)), with |c| the term count of c, A the average term count per
 * class, f(t) the count of t over all classes. Returns every class's terms, best first, ties by term.
 * Cost: one pass over all terms plus a sort per class.
 */
export function cTfIdf(classes: ReadonlyArray<ReadonlyArray<readonly string[]>>, opts: { minCount?: number } = {}): WeightedTerm[][] {
  const minCount = opts.minCount ?? 1;
  const counts = classes.map((msgs) => {
    const m = new Map<string, number>();
    for (const terms of msgs) for (const t of terms) m.set(t, (m.get(t) ?? 0) + 1);
    return m;
  });
  const total = new Map<string, number>();
  let all = 0;
  for (const m of counts) for (const [t, n] of m) (total.set(t, (total.get(t) ?? 0) + n), (all += n));
  const avg = all / Math.max(classes.length, 1);
  return counts.map((m) => {
    const size = [...m.values()].reduce((a, b) => a + b, 0) || 1;
    return [...m]
      .filter(([, n]) => n >= minCount)
      .map(([term, n]) => ({ term, weight: (n / size) * Math.log(1 + avg / total.get(term)!) }))
      .sort((a, b) => b.weight - a.weight || (a.term < b.term ? -1 : 1));
  });
}
