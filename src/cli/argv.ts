/**
 * Checks on the raw command line that yargs does not make: an option that takes a value given
 * without one. yargs quietly turns `--limit` at the end of a line into "no limit", `--wait` before
 * another option into the default, `--limit ''` into 0; a person who typed the option meant
 * something else, so it is a usage error naming it.
 */

/**
 * The first option in `args` that takes a value but has none: nothing after it, another option
 * after it, or an empty string. `-` counts as a value (standard input or output), and so does a
 * negative number or age (`--since -5d`). Null when every such option has its value.
 */
export function optionWithoutValue(args: readonly string[], valueOptions: ReadonlySet<string>, shortAliases: Readonly<Record<string, string>> = {}): string | null {
  for (let i = 0; i < args.length; i++) {
    const token = args[i]!;
    if (token === '--') break;
    let name: string | undefined;
    if (token.startsWith('--')) {
      const eq = token.indexOf('=');
      if (eq >= 0) {
        if (eq === token.length - 1 && valueOptions.has(token.slice(2, eq))) return token.slice(2, eq);
        continue;
      }
      name = token.slice(2);
    } else if (token.length === 2 && token[0] === '-') {
      name = shortAliases[token[1]!];
    }
    if (name === undefined || !valueOptions.has(name)) continue;
    const next = args[i + 1];
    if (next === undefined || next === '') return name;
    if (next.length > 1 && next[0] === '-' && !(next[1]! >= '0' && next[1]! <= '9') && next[1] !== '.') return name;
  }
  return null;
}

/**
 * The first option yargs collected into an array because it was given more than once, with how
 * often: neither tool has an option that takes a list. Skips yargs' positional list, one-letter
 * aliases and camelCase copies (each has a long name too). Null when every option came once.
 */
export function repeatedOption(argv: Record<string, unknown>): [string, number] | null {
  for (const [key, value] of Object.entries(argv)) {
    if (key === '_' || key.length === 1 || key !== key.toLowerCase() || !Array.isArray(value)) continue;
    return [key, value.length];
  }
  return null;
}
