// The `--coordinator` flag: `etcd://HOST:PORT[,HOST:PORT...]`, the etcd
// members a node talks to in the consistent mode, and `--cluster-name`, the
// namespace that lets several clusters share one etcd.
import { formatAddress, parseAddress } from '../common/address.js';

const SCHEME = 'etcd://';
const CLUSTER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const DEFAULT_CLUSTER_NAME = 'warehouse13';

/** The etcd client URLs (`http://HOST:PORT`) named by a coordinator URL; throws a one-line reason. */
export function parseCoordinatorUrl(text: string): string[] {
  if (!text.startsWith(SCHEME)) throw new Error(`"${text}" is not a coordinator URL (expected etcd://HOST:PORT[,HOST:PORT...])`);
  const members = text.slice(SCHEME.length).split(',');
  const endpoints = members.map((member) => {
    try {
      return `http://${formatAddress(parseAddress(member.trim()))}`;
    } catch (error) {
      throw new Error(`"${text}": ${(error as Error).message}`);
    }
  });
  if (new Set(endpoints).size !== endpoints.length) throw new Error(`"${text}" names an etcd member twice`);
  return endpoints;
}

export function formatCoordinatorUrl(endpoints: readonly string[]): string {
  return SCHEME + endpoints.map((endpoint) => endpoint.replace(/^https?:\/\//, '')).join(',');
}

export function parseClusterName(text: string): string {
  if (!CLUSTER_NAME_PATTERN.test(text)) throw new Error(`"${text}" is not a cluster name (1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit)`);
  return text;
}
