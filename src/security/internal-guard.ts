// The server side of node-to-node authentication, for the plugin that holds
// the internal routes: a request without fresh auth headers is refused before
// its body is read, the body's MAC is checked as it is parsed, and every answer
// to an authentic request is signed so the asking node can trust it.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AUTH_HEADER, checkRequestHeaders, signResponse, verifyRequest } from './cluster-auth.js';

class AuthError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

const verified = new WeakMap<FastifyRequest, string>();

export function guardInternalRoutes(plugin: FastifyInstance, secret: string): void {
  plugin.addHook('onRequest', (request, _reply, done) => {
    const problem = checkRequestHeaders(request.headers);
    done(problem ? new AuthError(problem, 401) : undefined);
  });

  plugin.removeAllContentTypeParsers();
  plugin.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const requestMac = verifyRequest(secret, request.method, request.url, request.headers, body as Buffer);
    if (!requestMac) return done(new AuthError('Request is not signed with this cluster\'s secret', 403));
    verified.set(request, requestMac);
    try {
      done(null, JSON.parse((body as Buffer).toString('utf8')));
    } catch {
      done(new AuthError('Body is not valid JSON', 400));
    }
  });

  // A request without a body never reaches the parser: it is refused here.
  plugin.addHook('preValidation', (request, _reply, done) => {
    done(verified.has(request) ? undefined : new AuthError('Request is not signed with this cluster\'s secret', 403));
  });

  plugin.addHook('onSend', (request, reply, payload, done) => {
    const requestMac = verified.get(request);
    if (requestMac && (typeof payload === 'string' || Buffer.isBuffer(payload))) {
      void reply.header(AUTH_HEADER, signResponse(secret, requestMac, reply.statusCode, payload));
    }
    done(null, payload);
  });
}
