/**
 * Topics per channel and time window. With an embeddings model: messages are embedded and
 * clustered (spherical k-means, fixed seed). Without: keyword topics from c-TF-IDF over the
 * channel's windows. Either way each topic is labelled by its most distinctive terms (c-TF-IDF
 * over all topics of the channel) and every message gets the topic id of its window, or -1.
 */
import { sphericalKMeans } from './kmeans.ts';
import { cTfIdf, messageTerms, STOPWORDS } from './terms.ts';

export interface TopicMessage {
  id: string;
  channel: string;
  /** Epoch milliseconds. */
  ts: number;
  text: string;
  /** Emote names found in the text (messages.emote_names); they count as terms as written. */
  emoteNames?: readonly string[];
}

/** What computeTopics needs from the model runtime; a ModelRuntime fits. */
export interface TopicEmbedder {
  readonly available: { embeddings: string | null };
  embed(texts: string[]): Promise<Float32Array[]>;
}

export interface TopicOptions {
  /** Window length in ms. Default 300,000 (5 minutes). */
  windowMs?: number;
  /** Most topics per window. Default 6. */
  maxTopics?: number;
  /** A topic needs at least this many messages; smaller groups go to -1. Default 3. */
  minMessages?: number;
  /** Terms kept per topic (the label uses the first 3). Default 5. */
  termsPerTopic?: number;
  /** Embedding model; null or without embeddings -> keyword topics. */
  embedder?: TopicEmbedder | null;
  /** k-means seed. Default 1. */
  seed?: number;
  stopwords?: ReadonlySet<string>;
}

export type TopicMethod = 'embeddings' | 'keywords';

export interface Topic {
  channel: string;
  /** Epoch ms of the window start (a multiple of windowMs). */
  windowStart: number;
  /** 0.. within the window, largest topic first. */
  topicId: number;
  label: string;
  terms: string[];
  weights: number[];
  messages: number;
  method: TopicMethod;
}

export interface TopicResult {
  topics: Topic[];
  /** Message id -> topic id within its window (-1: no topic). Every input message is present. */
  assignments: Map<string, number>;
  method: TopicMethod;
  /** Window length used, ms. */
  windowMs: number;
}

interface Prepared {
  msg: TopicMessage;
  terms: string[];
}

interface Window {
  channel: string;
  start: number;
  items: Prepared[];
}

function windowsOf(messages: readonly TopicMessage[], windowMs: number, stopwords: ReadonlySet<string>): Window[] {
  const byKey = new Map<string, Window>();
  for (const msg of messages) {
    const start = Math.floor(msg.ts / windowMs) * windowMs;
    const key = `${msg.channel}\u0000${start}`;
    let w = byKey.get(key);
    if (!w) byKey.set(key, (w = { channel: msg.channel, start, items: [] }));
    w.items.push({ msg, terms: messageTerms(msg.text, msg.emoteNames ?? [], stopwords) });
  }
  return [...byKey.values()].sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : a.start - b.start));
}

/**
 * Keyword grouping for one window: its most distinctive terms (c-TF-IDF against the channel's
 * other windows) are seeds, taken best first; a seed claims the unclaimed messages containing it
 * and survives only with at least minMessages of them.
 */
function keywordGroups(w: Window, ranked: Array<{ term: string; weight: number }>, o: Required<Pick<TopicOptions, 'maxTopics' | 'minMessages'>>): number[] {
  const group = new Array<number>(w.items.length).fill(-1);
  let next = 0;
  for (const { term } of ranked) {
    if (next >= o.maxTopics) break;
    const claim = w.items.map((it, i) => (group[i] === -1 && it.terms.includes(term) ? i : -1)).filter((i) => i >= 0);
    if (claim.length < o.minMessages) continue;
    for (const i of claim) group[i] = next;
    next++;
  }
  return group;
}

async function embeddingGroups(w: Window, embedder: TopicEmbedder, o: Required<Pick<TopicOptions, 'maxTopics' | 'minMessages' | 'seed'>>): Promise<number[]> {
  // Chat repeats lines (copypasta, "GG"): embed each distinct text once.
  const distinct = [...new Set(w.items.map((it) => it.msg.text))];
  const vectors = await embedder.embed(distinct);
  const byText = new Map(distinct.map((t, i) => [t, vectors[i]]));
  // k grows with the square root of the window's size: 8 messages -> 2, 200 -> 10 (capped).
  const k = Math.max(1, Math.min(o.maxTopics, Math.round(Math.sqrt(w.items.length / 2))));
  const clusters = sphericalKMeans(w.items.map((it) => byText.get(it.msg.text)!), k, { seed: o.seed });
  const sizes = new Map<number, number>();
  for (const c of clusters) sizes.set(c, (sizes.get(c) ?? 0) + 1);
  return clusters.map((c) => (sizes.get(c)! >= o.minMessages ? c : -1));
}

/** Renumbers groups 0.. by size (desc), then first appearance, so ids are stable for equal input. */
function renumber(groups: number[]): number[] {
  const sizes = new Map<number, { n: number; first: number }>();
  groups.forEach((g, i) => {
    if (g < 0) return;
    const s = sizes.get(g) ?? { n: 0, first: i };
    s.n++;
    sizes.set(g, s);
  });
  const order = [...sizes].sort((a, b) => b[1].n - a[1].n || a[1].first - b[1].first).map(([g]) => g);
  const map = new Map(order.map((g, i) => [g, i]));
  return groups.map((g) => (g < 0 ? -1 : map.get(g)!));
}

/**
 * Computes topics for messages of any channels and times. No I/O besides `embedder.embed`.
 * Deterministic for equal input and options.
 */
export async function computeTopics(messages: readonly TopicMessage[], opts: TopicOptions = {}): Promise<TopicResult> {
  const windowMs = opts.windowMs ?? 300_000;
  const o = { maxTopics: opts.maxTopics ?? 6, minMessages: opts.minMessages ?? 3, seed: opts.seed ?? 1 };
  const termsPerTopic = opts.termsPerTopic ?? 5;
  const embedder = opts.embedder && opts.embedder.available.embeddings !== null ? opts.embedder : null;
  const method: TopicMethod = embedder ? 'embeddings' : 'keywords';
  const windows = windowsOf(messages, windowMs, opts.stopwords ?? STOPWORDS);
  const assignments = new Map<string, number>();
  const topics: Topic[] = [];

  for (const channel of [...new Set(windows.map((w) => w.channel))]) {
    const chWindows = windows.filter((w) => w.channel === channel);
    const groupsPerWindow: number[][] = [];
    if (embedder) {
      for (const w of chWindows) groupsPerWindow.push(renumber(await embeddingGroups(w, embedder, o)));
    } else {
      // A seed must appear in minMessages messages of its window to be worth ranking.
      const ranked = cTfIdf(chWindows.map((w) => w.items.map((it) => it.terms)), { minCount: o.minMessages });
      chWindows.forEach((w, i) => groupsPerWindow.push(renumber(keywordGroups(w, ranked[i], o))));
    }
    // Labels: c-TF-IDF with every topic of the channel as a class, so a label names what sets a
    // topic apart from the channel's other topics, not just what is frequent in it.
    const classes: Array<{ w: Window; topicId: number; terms: string[][] }> = [];
    chWindows.forEach((w, wi) => {
      const groups = groupsPerWindow[wi];
      w.items.forEach((it, i) => assignments.set(it.msg.id, groups[i]));
      const n = Math.max(-1, ...groups) + 1;
      for (let t = 0; t < n; t++) classes.push({ w, topicId: t, terms: w.items.filter((_, i) => groups[i] === t).map((it) => it.terms) });
    });
    const weighted = cTfIdf(classes.map((c) => c.terms));
    classes.forEach((c, i) => {
      const top = weighted[i].slice(0, termsPerTopic);
      topics.push({
        channel,
        windowStart: c.w.start,
        topicId: c.topicId,
        label: top.length ? top.slice(0, 3).map((t) => t.term).join(' · ') : '(no terms)',
        terms: top.map((t) => t.term),
        weights: top.map((t) => Math.round(t.weight * 1e6) / 1e6),
        messages: c.terms.length,
        method,
      });
    });
  }
  return { topics, assignments, method, windowMs };
}
