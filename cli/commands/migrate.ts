import { createClickHouse } from '../../core/clickhouse.ts';
import { applyRetention, listMigrations, migrateDown, migrateUp, appliedMigrations } from '../../clickhouse/migrate.ts';
import { loadHypeModel } from '../../analytics/hype-model.ts';
import { parseArgs, UsageError, type Command } from '../command.ts';

export const command: Command = {
  name: 'migrate',
  summary: 'Apply (or revert) the ClickHouse schema migrations; a no-op when up to date',
  usage: 'twichist migrate [up|down|status] [--to VERSION] [--repair]',
  options: [
    { flag: 'up', description: 'apply pending migrations (default)' },
    { flag: 'down', description: 'revert applied migrations newer than --to (all without --to)' },
    { flag: 'status', description: 'list migrations and whether each is applied' },
    { flag: '--to VERSION', description: 'stop at this migration number' },
    { flag: '--repair', description: 'undo and reapply a migration an earlier, killed run left half-applied (automatic on the embedded database; on a server only when no other process is migrating it)' },
  ],
  examples: ['twichist migrate', 'twichist migrate status', 'twichist migrate down --to 1'],
  async run(args, ctx) {
    const { flags, positional } = parseArgs(args, { to: 'string', repair: 'boolean' });
    const action = positional[0] ?? 'up';
    if (!['up', 'down', 'status'].includes(action)) throw new UsageError(`unknown migrate action '${action}'`);
    const to = flags.to === undefined ? undefined : Number(flags.to);
    if (to !== undefined && (!Number.isInteger(to) || to < 0)) throw new UsageError(`--to must be a migration number, not '${flags.to}'`);
    const config = ctx.config();
    const client = await createClickHouse(config);
    const log = (verb: string) => (m: { version: number; name: string }, i: number, n: number) =>
      ctx.stderr.write(`[${i + 1}/${n}] ${verb} ${String(m.version).padStart(4, '0')}_${m.name}\n`);
    try {
      if (action === 'status') {
        const applied = new Set((await appliedMigrations(client)).map((a) => a.version));
        for (const m of listMigrations()) ctx.stdout.write(`${applied.has(m.version) ? 'applied' : 'pending'}  ${String(m.version).padStart(4, '0')}_${m.name}\n`);
        return 0;
      }
      if (action === 'down') {
        const done = await migrateDown(client, { to, onApply: log('reverting') });
        ctx.stdout.write(`reverted ${done.length} migration(s)\n`);
        return 0;
      }
      const done = await migrateUp(client, { to, onApply: log('applying'), ...(flags.repair ? { repairInterrupted: true } : {}) });
      await applyRetention(client, config.clickhouse.retentionDays);
      // the hype view predicts nothing until the shipped weights are in hype_model (idempotent)
      await loadHypeModel(client);
      ctx.stdout.write(done.length === 0 ? 'schema is up to date\n' : `applied ${done.length} migration(s)\n`);
      return 0;
    } finally {
      await client.close();
    }
  },
};
