// TLS material from PEM files, read and checked once at start-up so that a
// missing file, a malformed one or a key that does not match its certificate
// is a one-line error before anything listens.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

/** A node's certificate and key, and the CA its peers' certificates are checked against (the system's when absent). */
export interface NodeTls {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

export function readPemFile(path: string, what: string): Buffer {
  let content: Buffer;
  try {
    content = readFileSync(path);
  } catch (error) {
    throw new Error(`cannot read the ${what} ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (!content.toString('latin1').includes('-----BEGIN ')) throw new Error(`the ${what} ${path} is not a PEM file`);
  return content;
}

/** Why OpenSSL refused the material, without its library prefix. */
function reason(error: unknown): string {
  return (error as Error).message.replace(/^error:[0-9A-F]+:[^:]*:[^:]*:/, '').split('\n')[0]!;
}

export function loadCa(path: string): Buffer {
  const ca = readPemFile(path, 'CA certificate');
  try {
    createSecureContext({ ca });
  } catch (error) {
    throw new Error(`the CA certificate ${path} is not usable (${reason(error)})`);
  }
  return ca;
}

export function loadNodeTls(certPath: string, keyPath: string, caPath: string | undefined): NodeTls {
  const cert = readPemFile(certPath, 'certificate');
  const key = readPemFile(keyPath, 'key');
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new Error(`the certificate ${certPath} and key ${keyPath} are not usable together (${reason(error)})`);
  }
  return caPath === undefined ? { cert, key } : { cert, key, ca: loadCa(caPath) };
}

/** OpenSSL's codes for a certificate the connecting side does not trust. */
const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A failed connection in one line; a TLS failure, which no retry can mend,
 * says what is wrong (OpenSSL's own text spans lines and names source files).
 */
export function describeConnectionFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code !== undefined && UNTRUSTED_CERTIFICATE.has(code)) return `${message}: the node's certificate is not trusted`;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER') return 'the node does not serve HTTPS';
  return message.split('\n')[0]!.trim();
}
