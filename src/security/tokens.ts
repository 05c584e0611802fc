// Client tokens for the public API: a tokens file names each token with its
// role, and every public request is checked against the role its route needs.
// Pure functions but the file reading: the server's hook only wires them in.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DOCUMENTS_PREFIX, INTERNAL_PREFIX, UI_PATH } from '../protocol/paths.js';

export const ROLES = ['read', 'write', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const MIN_TOKEN_LENGTH = 16;

/** Each role grants what the ones before it grant. */
const RANK: Record<Role, number> = { read: 0, write: 1, admin: 2 };

/** Tokens are kept as SHA-256 digests: equal length, so every comparison is constant time. */
export interface TokenTable {
  entries: readonly { digest: Buffer; role: Role }[];
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * Parses a tokens file: one `ROLE TOKEN` a line, `#` comments and blank lines
 * ignored. Throws a one-line reason naming the line.
 */
export function parseTokens(text: string, source: string): TokenTable {
  const entries: { digest: Buffer; role: Role }[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${source} line ${index + 1}`;
    const [role, token, ...rest] = line.split(/\s+/);
    if (!ROLES.includes(role as Role)) throw new Error(`${where}: "${role}" is not a role (${ROLES.join(', ')}); lines read ROLE TOKEN`);
    if (token === undefined || rest.length > 0) throw new Error(`${where}: lines read ROLE TOKEN, one token a line`);
    if (token.length < MIN_TOKEN_LENGTH) throw new Error(`${where}: the token is shorter than ${MIN_TOKEN_LENGTH} characters`);
    if (seen.has(token)) throw new Error(`${where}: the token is listed twice`);
    seen.add(token);
    entries.push({ digest: digest(token), role: role as Role });
  });
  if (entries.length === 0) throw new Error(`${source} lists no token: lines read ROLE TOKEN (roles: ${ROLES.join(', ')})`);
  return { entries };
}

export function loadTokensFile(path: string): TokenTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the tokens file ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return parseTokens(text, path);
}

/** The role of a token, or null; looks at every entry whatever matches, so timing tells nothing. */
export function roleOf(table: TokenTable, token: string): Role | null {
  const given = digest(token);
  let found: Role | null = null;
  for (const entry of table.entries) if (timingSafeEqual(entry.digest, given) && found === null) found = entry.role;
  return found;
}

/**
 * The role a public request needs, or null for what needs none: the
 * dashboard's static files (no data in them) and the internal routes, which
 * the cluster secret guards.
 */
export function requiredRole(method: string, path: string): Role | null {
  if (path.startsWith(INTERNAL_PREFIX) || path === UI_PATH || path.startsWith(`${UI_PATH}/`)) return null;
  if (path.startsWith(DOCUMENTS_PREFIX) && method !== 'GET' && method !== 'HEAD') return 'write';
  return 'read';
}

export function grants(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

/** The bearer token of an `Authorization` header, or of an `access_token` query parameter (browsers' EventSource sets no headers). */
export function bearerToken(authorization: string | undefined, query: string): string | null {
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match ? match[1]! : null;
  }
  const token = new URLSearchParams(query).get('access_token');
  return token === null || token === '' ? null : token;
}

export type AccessDecision = { allowed: true } | { allowed: false; status: 401 | 403; error: string };

const ACTIONS: Record<Role, string> = { read: 'read', write: 'write documents', admin: 'administer the cluster' };

/** Decides one request: 401 without a known token, 403 when its role is too weak. */
export function checkAccess(table: TokenTable, method: string, url: string, authorization: string | undefined): AccessDecision {
  const [path = '', query = ''] = url.split('?', 2);
  const needed = requiredRole(method, path);
  if (needed === null) return { allowed: true };
  const token = bearerToken(authorization, query);
  if (token === null) return { allowed: false, status: 401, error: 'Unauthorized: this node needs a token (Authorization: Bearer TOKEN)' };
  const role = roleOf(table, token);
  if (role === null) return { allowed: false, status: 401, error: 'Unauthorized: unknown token' };
  if (!grants(role, needed)) return { allowed: false, status: 403, error: `Forbidden: a ${role} token cannot ${ACTIONS[needed]} (needs ${needed})` };
  return { allowed: true };
}
