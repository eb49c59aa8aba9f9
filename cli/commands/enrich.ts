/**
 * `twichist enrich`: the enrich stage alone, consuming JetStream (NATS_URL) into ClickHouse. Applies
 * pending migrations first; with embedded ClickHouse it serves the database to `twichist sql` and
 * friends through the control server while it runs.
 */
import http from 'node:http';
import { createClickHouse } from '../../core/clickhouse.ts';
import { serveHeldFolder } from '../../core/control.ts';
import { migrateUp } from '../../clickhouse/migrate.ts';
import { loadHypeModel } from '../../analytics/hype-model.ts';
import { createJetStreamConsumer } from '../../enrich/consumer.ts';
import { startEnrich, toPrometheus } from '../../enrich/index.ts';
import { parseArgs, UsageError, type Command } from '../command.ts';

export const command: Command = {
  name: 'enrich',
  summary: 'Consume chat events from JetStream, enrich them and store them in ClickHouse exactly once',
  usage: 'twichist enrich',
  options: [],
  examples: ['NATS_URL=nats://127.0.0.1:4222 twichist enrich', 'NATS_URL=nats://127.0.0.1:4222 ENRICH_BATCH_SIZE=2000 ENRICH_FLUSH_MS=100 twichist enrich'],
  async run(args, ctx) {
    parseArgs(args, {});
    const config = ctx.config();
    if (config.nats.url === null) throw new UsageError('NATS_URL is not set: `twichist enrich` consumes JetStream (e.g. NATS_URL=nats://127.0.0.1:4222); without NATS, `twichist up` or `import` enrich in one process');
    const logger = ctx.logger().child({ cmd: 'enrich' });
    const client = await createClickHouse(config);
    let control: Awaited<ReturnType<typeof serveHeldFolder>> = null;
    let consumer: Awaited<ReturnType<typeof createJetStreamConsumer>> | null = null;
    let stage: ReturnType<typeof startEnrich> | null = null;
    let report: NodeJS.Timeout | undefined;
    // Prometheus scrape target: the API process of a split deployment cannot see this process's counters.
    let metricsServer: http.Server | null = null;
    let shuttingDown: Promise<number> | null = null;
    // Ordered shutdown (SIGTERM/SIGINT, a failed consume loop, or a start that failed part-way: then only what
    // was opened is closed); each step needs the ones after it. A step that fails is logged and the rest still
    // run, so the process never stays up on what is left open.
    const shutdown = (reason: string, code: number) =>
      (shuttingDown ??= (async () => {
        logger.info({ reason }, 'shutting down');
        clearInterval(report);
        let failed = false;
        const step = async (name: string, fn: () => Promise<unknown>) => {
          try {
            await fn();
          } catch (err) {
            failed = true;
            logger.error({ err }, `${name} failed`);
          }
        };
        // 1. Stop pulling, store what is buffered, ack it (acks are written to the NATS socket).
        await step('stopping enrich', async () => stage?.stop());
        // 2. Drain NATS: flushes those acks to the server before the connection closes. Unacked
        //    messages (none after a clean stop) would be redelivered to the next instance.
        await step('closing the consumer', async () => consumer?.close());
        // 3. Stop serving metrics and the embedded database to other processes, then close our client.
        await step('closing the metrics server', () => new Promise((r) => (metricsServer ? metricsServer.close(r) : r(undefined))));
        await step('closing the control server', async () => control?.close());
        await step('closing ClickHouse', () => client.close());
        logger.info({ acked: stage?.metrics.busAcked ?? 0, out: stage?.metrics.eventsOut ?? 0 }, 'enrich stopped');
        return failed ? 1 : code;
      })());
    try {
      const applied = await migrateUp(client);
      await loadHypeModel(client);
      if (applied.length > 0) logger.info({ applied: applied.map((m) => `${m.version}_${m.name}`) }, 'applied migrations');
      control = await serveHeldFolder({ dataDir: config.dataDir, logger });
      consumer = await createJetStreamConsumer({ config, logger });
      stage = startEnrich({ config, logger, client, consumer });
      report = setInterval(() => {
        const m = stage!.metrics;
        logger.info({ acked: m.busAcked, out: m.eventsOut, deadLetters: m.deadLetters, duplicates: m.duplicatesDropped, naks: m.busNaked }, 'enrich progress');
      }, 30_000);
      report.unref();
      if (config.enrich.metricsPort > 0) {
        const server = http.createServer((req, res) => {
          if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
            res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the only path is /metrics\n');
            return;
          }
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(toPrometheus(stage!.metrics));
        });
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(config.enrich.metricsPort, config.enrich.metricsHost, () => resolve());
        }).catch((err: Error) => {
          throw new UsageError(`cannot serve metrics on ${config.enrich.metricsHost}:${config.enrich.metricsPort} (${err.message}): set ENRICH_METRICS_PORT to a free port, or 0 to turn it off`);
        });
        metricsServer = server;
        logger.info({ url: `http://${config.enrich.metricsHost}:${config.enrich.metricsPort}/metrics` }, 'metrics');
      }
    } catch (err) {
      // Start-up failed with something open (NATS down, metrics port taken): without closing it the process
      // printed the error and kept running on the open handles.
      await shutdown('start-up failed', 1);
      throw err;
    }
    return new Promise<number>((resolve) => {
      const onSignal = (sig: NodeJS.Signals) => void shutdown(sig, 0).then(resolve);
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      stage!.done.then(
        () => void shutdown('consumer ended', 0).then(resolve),
        (err: unknown) => {
          logger.error({ err }, 'enrich failed');
          void shutdown('consume loop failed', 1).then(resolve);
        },
      );
    });
  },
};
