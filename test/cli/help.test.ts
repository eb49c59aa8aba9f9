/**
 * Every command's `--help` exits 0, shows its usage and examples, and mentions each of its options.
 * The commands are discovered at test time from cli/commands/, so a new command is covered without
 * touching this file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Command } from '../../cli/command.ts';
import { ROOT, runCli } from './harness.ts';

const dir = path.join(ROOT, 'cli', 'commands');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ts')).sort();

test('cli/commands is not empty', () => {
  assert.ok(files.length > 0);
});

// Broken environment on purpose: help must not need a valid configuration.
const env = { CLICKHOUSE_URL: 'not a url', NATS_URL: 'nope', TWICHIST_DATA_DIR: '/nonexistent/twichist-help' };

for (const file of files) {
  test(`${file}: --help exits 0 and mentions every option`, async (t) => {
    const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as { command?: Command };
    // bin/twichist.ts ignores modules without `command`; so does this test, visibly.
    if (!mod.command) return t.skip(`${file} exports no \`command\`, so it is not a command`);
    const c = mod.command;
    assert.equal(`${c.name}.ts`, file, 'command name matches its file name');
    assert.ok(c.examples.length > 0, `${c.name} has examples`);
    const r = await runCli([c.name, '--help'], env);
    assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stdout, /Usage: /);
    assert.match(r.stdout, /Examples:/);
    for (const o of c.options) {
      // Each `--flag` of the option line (e.g. `--dtype q8|fp32`) must be visible as-is.
      const flags = o.flag.match(/--[a-z0-9-]+/gi) ?? [o.flag.split(/\s/)[0]];
      for (const f of flags) assert.ok(r.stdout.includes(f), `${c.name} --help mentions ${f}`);
      assert.ok(r.stdout.includes(o.description.slice(0, 40)), `${c.name} --help describes ${o.flag}`);
    }
    for (const e of c.examples) assert.ok(r.stdout.includes(e), `${c.name} --help shows example ${e}`);
    // -h is the short form.
    const short = await runCli([c.name, '-h'], env);
    assert.equal(short.code, 0);
    assert.equal(short.stdout, r.stdout);
  });
}

test('twichist --help lists every command', async () => {
  const r = await runCli(['--help'], env);
  assert.equal(r.code, 0);
  for (const f of files) assert.match(r.stdout, new RegExp(`\\b${f.replace(/\.ts$/, '')}\\b`));
});

test('an unknown command exits non-zero with one line', async () => {
  const r = await runCli(['no-such-command'], env);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /unknown command 'no-such-command'/);
});
