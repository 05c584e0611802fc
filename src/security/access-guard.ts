// The server side of client tokens: one hook on every request, before routing
// reads a body or redirects to the leader, answering 401 or 403 with the
// usual one-line JSON error.
import type { FastifyInstance } from 'fastify';
import { checkAccess, type TokenTable } from './tokens.js';

/** `tokens` is asked on every request: a reload (SIGHUP) takes effect at once. */
export function guardPublicRoutes(app: FastifyInstance, tokens: () => TokenTable): void {
  // A callback hook, not an async one: it runs on every request.
  app.addHook('onRequest', (request, reply, done) => {
    const decision = checkAccess(tokens(), request.method, request.url, request.headers.authorization);
    if (decision.allowed) return done();
    void reply
      .code(decision.status)
      .header('www-authenticate', decision.status === 401 ? 'Bearer realm="warehouse13"' : 'Bearer realm="warehouse13", error="insufficient_scope"')
      .send({ error: decision.error });
  });
}
