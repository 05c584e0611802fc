// Tab completion of the command word at the REPL prompt (node:readline's
// completer contract: the candidates and the text they replace).

export function completeCommand(line: string, names: readonly string[]): [string[], string] {
  const word = line.trimStart();
  // Only the first word is a command; keys and values are the user's.
  if (/\s/.test(word)) return [[], line];
  const upper = word.toUpperCase();
  const hits = names.filter((name) => name.startsWith(upper) || name.startsWith(word));
  return [hits.length === 1 ? [`${hits[0]} `] : hits, word];
}
