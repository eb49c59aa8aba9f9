/**
 * `twichist api`: the JSON API on its own (ingest and enrich run elsewhere, e.g. over NATS).
 * Applies migrations first. On the embedded database it serves the control channel too, so
 * `twichist sql` keeps working while the API holds the data folder. SIGTERM/SIGINT close it gracefully.
 */
import { buildApp } from '../../api/app.ts';
import { apiRequestTimeoutMs } from '../../api/db.ts';
import { createNatsLive } from '../../api/live.ts';
import { createClickHouse } from '../../core/clickhouse.ts';
import { serveHeldFolder, type ControlServer } from '../../core/control.ts';
import { checkApiToken } from '../../core/runtime.ts';
import { channelControlSubject } from '../../core/subjects.ts';
import { applyRetention, migrateUp } from '../../clickhouse/migrate.ts';
import { loadHypeModel } from '../../analytics/hype-model.ts';
import { parseArgs, type Command } from '../command.ts';

export const command: Command = {
  name: 'api',
  summary: 'Serve the JSON API (OpenAPI docs at /docs, justlog-compatible log endpoints, live feed)',
  usage: 'twichist api',
  options: [],
  examples: ['twichist api', 'API_PORT=8080 TWICHIST_API_TOKEN=$(openssl rand -hex 24) twichist api', 'NATS_URL=nats://127.0.0.1:4222 CLICKHOUSE_URL=http://127.0.0.1:8123 twichist api'],
  async run(args, ctx) {
    parseArgs(args, {});
    const config = ctx.config();
    checkApiToken(config);
    const logger = ctx.logger();
    const client = await createClickHouse(config, { requestTimeoutMs: apiRequestTimeoutMs(config.api.queryTimeoutS) });
    let control: ControlServer | null = null;
    let nc: import('@nats-io/transport-node').NatsConnection | null = null;
    try {
      await migrateUp(client, { onApply: (m) => logger.info({ migration: `${m.version}_${m.name}` }, 'applying migration') });
      await applyRetention(client, config.clickhouse.retentionDays);
      await loadHypeModel(client);
      control = await serveHeldFolder({ dataDir: config.dataDir, logger });
      if (config.nats.url !== null) {
        const { connect } = await import('@nats-io/transport-node');
        nc = await connect({ servers: config.nats.url.split(',').map((s) => s.trim()), name: `twichist-api-${process.pid}` });
      }
      const conn = nc;
      const app = await buildApp({
        config,
        logger,
        client,
        live: conn ? createNatsLive(conn, config.nats.subjectPrefix) : null,
        nats: conn ? { ping: () => conn.flush() } : null,
        // Ingestors listening on the control subject re-read the channels table at once.
        notifier: conn ? { channelsChanged: () => conn.publish(channelControlSubject(config.nats.subjectPrefix), '{"changed":"channels"}') } : null,
      });
      await app.listen({ host: config.api.host, port: config.api.port });
      ctx.stdout.write(`API listening on http://${config.api.host}:${(app.server.address() as { port: number }).port} (docs at /docs)\n`);
      const sig = await new Promise<string>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      logger.info({ signal: sig }, 'stopping the API');
      // Stop accepting, finish requests in flight, then release the bus and the database.
      await app.close();
      return 0;
    } finally {
      if (nc && !nc.isClosed()) await nc.drain().catch(() => {});
      await control?.close();
      await client.close();
    }
  },
};
