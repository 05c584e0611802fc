const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export const KEY_ERROR = 'Key is not a proper UUID4';

export function isUuid4(text: string): boolean {
  return UUID4.test(text);
}

/** Keys are case-insensitive and stored lower-case; returns null for a non-UUID4. */
export function normalizeKey(text: string): string | null {
  return isUuid4(text) ? text.toLowerCase() : null;
}
