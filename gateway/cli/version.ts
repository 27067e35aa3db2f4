// `promptgate --version`: the version in the package.json that ships beside gateway/ (in the repository
// and in the image), found by walking up from this file so that moving the module does not break it.
import { readFile } from "node:fs/promises";

export async function packageVersion(): Promise<string> {
  for (let dir = new URL(".", import.meta.url); ; dir = new URL("..", dir)) {
    const file = new URL("package.json", dir);
    const text = await readFile(file, "utf8").catch(() => null);
    if (text !== null) {
      const pkg: unknown = JSON.parse(text);
      if (typeof pkg === "object" && pkg !== null && "name" in pkg && pkg.name === "promptgate") {
        if ("version" in pkg && typeof pkg.version === "string") return pkg.version;
      }
    }
    if (new URL("..", dir).href === dir.href) throw new Error("package.json of promptgate not found");
  }
}
