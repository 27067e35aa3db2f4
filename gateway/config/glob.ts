// Model-route globs: `*` matches any run of characters (slashes included), `?` exactly one.

export function compileGlob(pattern: string): (text: string) => boolean {
  if (!/[*?]/.test(pattern)) return (text) => text === pattern;
  const body = pattern
    .split("")
    .map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[\\^$.|+()[\]{}]/g, "\\$&")))
    .join("");
  const re = new RegExp(`^${body}$`, "s");
  return (text) => re.test(text);
}
