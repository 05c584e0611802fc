import { once } from 'node:events';
import { createServer } from 'node:net';

/** Ports the OS reports free right now on `host` (all held at once, so they differ). */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(async (server) => {
        server.listen(0, host);
        await once(server, 'listening');
        return (server.address() as { port: number }).port;
      }),
    );
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}
