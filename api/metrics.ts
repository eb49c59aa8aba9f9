/**
 * The API's own Prometheus metrics: request counts and a duration histogram per (method, route,
 * status class). Routes are the registered patterns (`/api/v1/users/:login`), never raw URLs, so
 * the series count stays bounded whatever clients send.
 */
const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Series {
  count: number;
  sum: number;
  buckets: number[];
}

export class HttpMetrics {
  private readonly series = new Map<string, Series>();
  private readonly requests = new Map<string, number>();
  liveClients = 0;
  liveDropped = 0;

  observe(method: string, route: string, status: number, seconds: number): void {
    const labels = `method="${esc(method)}",route="${esc(route)}"`;
    const withStatus = `${labels},status="${status}"`;
    this.requests.set(withStatus, (this.requests.get(withStatus) ?? 0) + 1);
    let s = this.series.get(labels);
    if (!s) {
      s = { count: 0, sum: 0, buckets: BOUNDS.map(() => 0) };
      this.series.set(labels, s);
    }
    s.count += 1;
    s.sum += seconds;
    for (let i = 0; i < BOUNDS.length; i++) if (seconds <= BOUNDS[i]) s.buckets[i] += 1;
  }

  toPrometheus(): string {
    const out: string[] = [];
    out.push('# HELP twichist_api_requests_total HTTP requests answered by the API.', '# TYPE twichist_api_requests_total counter');
    for (const [l, n] of this.requests) out.push(`twichist_api_requests_total{${l}} ${n}`);
    out.push('# HELP twichist_api_request_duration_seconds HTTP request duration.', '# TYPE twichist_api_request_duration_seconds histogram');
    for (const [l, s] of this.series) {
      BOUNDS.forEach((b, i) => out.push(`twichist_api_request_duration_seconds_bucket{${l},le="${b}"} ${s.buckets[i]}`));
      out.push(`twichist_api_request_duration_seconds_bucket{${l},le="+Inf"} ${s.count}`);
      out.push(`twichist_api_request_duration_seconds_sum{${l}} ${s.sum}`);
      out.push(`twichist_api_request_duration_seconds_count{${l}} ${s.count}`);
    }
    out.push('# HELP twichist_api_live_clients Connected live feed clients.', '# TYPE twichist_api_live_clients gauge', `twichist_api_live_clients ${this.liveClients}`);
    out.push('# HELP twichist_api_live_dropped_total Live clients dropped for being too slow.', '# TYPE twichist_api_live_dropped_total counter', `twichist_api_live_dropped_total ${this.liveDropped}`);
    return out.join('\n') + '\n';
  }
}

function esc(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
