export interface Address {
  host: string;
  port: number;
}

/** Parses `HOST:PORT` (IPv6 hosts in brackets are not supported: ids use the colon). */
export function parseAddress(text: string): Address {
  const match = /^([^\s:]+):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) throw new Error(`"${text}" is not HOST:PORT`);
  return { host: match[1]!, port };
}

export function parsePort(text: string): number {
  const port = /^\d{1,5}$/.test(text.trim()) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new Error(`"${text}" is not a port number (1-65535)`);
  return port;
}

export function formatAddress({ host, port }: Address): string {
  return `${host}:${port}`;
}

/** Node ids order by host, then numerically by port: the election order. */
export function compareNodeIds(a: string, b: string): number {
  const x = parseAddress(a);
  const y = parseAddress(b);
  if (x.host !== y.host) return x.host < y.host ? -1 : 1;
  return x.port - y.port;
}
