// Where a node's cluster secret comes from: a file named on the command line,
// the environment, or the copy in its data dir. A node founding a cluster in
// a new data dir creates one there; any other node without one refuses to
// start, since it could not talk to its cluster.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIN_SECRET_LENGTH } from './cluster-auth.js';

export const SECRET_FILE_NAME = 'cluster.secret';

export class SecretError extends Error {}

export interface SecretSources {
  file: string | null;
  env: string | undefined;
  dataDir: string;
  /** Founding a cluster in a new data dir: a secret may be created. */
  founding: boolean;
}

export interface ClusterSecret {
  secret: string;
  /** Set when the secret was just created: where it is, for the joiners. */
  createdIn?: string;
}

function checked(secret: string, source: string): string {
  const trimmed = secret.trim();
  if (trimmed.length < MIN_SECRET_LENGTH) throw new SecretError(`the cluster secret from ${source} is shorter than ${MIN_SECRET_LENGTH} characters`);
  return trimmed;
}

function readSecretFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SecretError(`cannot read the cluster secret file ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

export function loadClusterSecret(sources: SecretSources): ClusterSecret {
  if (sources.file !== null) {
    const text = readSecretFile(sources.file);
    if (text === undefined) throw new SecretError(`the cluster secret file ${sources.file} does not exist`);
    return { secret: checked(text, sources.file) };
  }
  if (sources.env !== undefined) return { secret: checked(sources.env, 'WAREHOUSE_CLUSTER_SECRET') };
  const kept = join(sources.dataDir, SECRET_FILE_NAME);
  const text = readSecretFile(kept);
  if (text !== undefined) return { secret: checked(text, kept) };
  if (!sources.founding) {
    throw new SecretError(
      'no cluster secret: pass the cluster\'s secret with --cluster-secret-file PATH or WAREHOUSE_CLUSTER_SECRET ' +
        `(a node that founded the cluster without one wrote it to ${SECRET_FILE_NAME} in its data dir)`,
    );
  }
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(kept, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return { secret, createdIn: kept };
}
