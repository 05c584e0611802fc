export const VALUE_ERROR = 'Value is not valid JSON';
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;

export function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export function tooLargeError(limit: number): string {
  return `Value is larger than the limit of ${limit} bytes`;
}
