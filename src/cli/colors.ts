// Colours for answers: only on a terminal, never when NO_COLOR is set
// (https://no-color.org), so pipes and scripts always get plain text.
import { createColors } from 'picocolors';

export type Paint = (line: string) => string;

export function colorsWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}

/** Colours a line by what it says: errors red, warnings and misses yellow, successful writes green. */
export function painter(enabled: boolean): Paint {
  if (!enabled) return (line) => line;
  const c = createColors(true);
  return (line) => {
    if (line.startsWith('Error: ')) return c.red(line);
    if (line.startsWith('WARNING: ') || line === 'Not found') return c.yellow(line);
    if (/^(Created|Updated|Deleted) \(/.test(line)) return c.green(line);
    if (/^(Connected|Reconnected) to /.test(line)) return c.bold(line);
    return line;
  };
}
