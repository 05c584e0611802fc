// Hooks the metrics into a node's HTTP server: every document request is
// timed once it has been answered, and `GET /metrics` serves the registry.
import type { buildServer } from '../server/app.js';
import type { NodeMetrics } from './metrics.js';
import { operationOf, outcomeOf } from './outcome.js';
import { DOCUMENT_ROUTE, METRICS_PATH } from '../protocol/paths.js';

export function registerMetrics(app: ReturnType<typeof buildServer>, metrics: NodeMetrics): void {
  // Added before the server starts, so the document routes (registered as a
  // plugin) inherit it. A callback hook: it runs on every request.
  app.addHook('onResponse', (request, reply, done) => {
    if (request.routeOptions.url === DOCUMENT_ROUTE) {
      const operation = operationOf(request.method);
      if (operation) metrics.request(operation, outcomeOf(reply.statusCode), reply.elapsedTime / 1000);
    }
    done();
  });
  app.get(METRICS_PATH, async (_request, reply) => reply.header('content-type', metrics.contentType).send(await metrics.text()));
}
