// `${VAR}` and `${VAR:-default}` expansion over every string of a parsed config document.

const REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export class MissingVariableError extends Error {
  readonly variable: string;
  readonly path: string;

  constructor(variable: string, path: string) {
    super(`${path}: environment variable ${variable} is not set (set it, or write \${${variable}:-default})`);
    this.name = "MissingVariableError";
    this.variable = variable;
    this.path = path;
  }
}

export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, path = ""): unknown {
  if (typeof value === "string") {
    return value.replace(REF, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== "") return v;
      if (fallback !== undefined) return fallback;
      throw new MissingVariableError(name, path || "(root)");
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, env, path ? `${path}.${k}` : k);
    return out;
  }
  return value;
}
