// The dashboard's HTTP side: the page and its scripts under /ui/, the
// snapshot stream as server-sent events, the leader's traffic and the key
// locator. The read-only JSON routes allow any origin, so a page whose node
// died can follow the cluster to another node.
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { buildServer } from '../server/app.js';
import fastifyStatic from '@fastify/static';
import { ClusterSnapshot, KeyLocation, LocateParams, Traffic } from '../protocol/dashboard.js';
import { CLUSTER_PATH, EVENTS_PATH, LOCATE_ROUTE, TRAFFIC_PATH, UI_PATH } from '../protocol/paths.js';
import { ErrorBody } from '../protocol/schemas.js';
import { KEY_ERROR, normalizeKey } from '../common/uuid.js';

/** Where `npm run build` puts the page and uPlot (dist/ui). */
export const UI_ROOT = fileURLToPath(new URL('../../ui/', import.meta.url));
const SNAPSHOT_INTERVAL_MS = 500;
const ANY_ORIGIN = 'access-control-allow-origin';

export interface DashboardServices {
  snapshot(): ClusterSnapshot;
  traffic(): Traffic;
  locate(key: string): Promise<KeyLocation>;
}

/** Pushes a snapshot to every open event stream twice a second; idle when nobody watches. */
class SnapshotStream {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly snapshot: () => ClusterSnapshot) {}

  add(response: ServerResponse): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      [ANY_ORIGIN]: '*',
    });
    response.write(`retry: 1000\n${this.event()}`);
    this.clients.add(response);
    response.on('close', () => {
      this.clients.delete(response);
      if (this.clients.size === 0) this.idle();
    });
    this.timer ??= setInterval(() => this.broadcast(), SNAPSHOT_INTERVAL_MS);
  }

  close(): void {
    this.idle();
    for (const client of this.clients) client.end();
    this.clients.clear();
  }

  private idle(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private event(): string {
    return `data: ${JSON.stringify(this.snapshot())}\n\n`;
  }

  private broadcast(): void {
    const event = this.event();
    for (const client of this.clients) client.write(event);
  }
}

export function registerDashboard(app: ReturnType<typeof buildServer>, services: DashboardServices): void {
  const stream = new SnapshotStream(() => services.snapshot());
  app.addHook('preClose', (done) => {
    stream.close();
    done();
  });
  void app.register(fastifyStatic, { root: UI_ROOT, prefix: `${UI_PATH}/` });
  app.get(UI_PATH, (_request, reply) => reply.redirect(`${UI_PATH}/`));
  app.get(EVENTS_PATH, (_request, reply) => {
    reply.hijack();
    stream.add(reply.raw);
  });
  app.get(CLUSTER_PATH, { schema: { response: { 200: ClusterSnapshot } } }, (_request, reply) => {
    void reply.header(ANY_ORIGIN, '*');
    return services.snapshot();
  });
  app.get(TRAFFIC_PATH, { schema: { response: { 200: Traffic } } }, (_request, reply) => {
    void reply.header(ANY_ORIGIN, '*');
    return services.traffic();
  });
  app.get<{ Params: { key: string } }>(
    LOCATE_ROUTE,
    { schema: { params: LocateParams, response: { 200: KeyLocation, 400: ErrorBody } } },
    async (request, reply) => {
      void reply.header(ANY_ORIGIN, '*');
      const key = normalizeKey(request.params.key);
      if (!key) return reply.code(400).send({ error: KEY_ERROR });
      return reply.send(await services.locate(key));
    },
  );
}
