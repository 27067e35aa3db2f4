// gateway.yaml `passthrough`: the other /v1 calls (beyond the inference routes and GET /v1/models) that
// reach a provider the gateway calls with its own key. Callers who bring their own key may call any.
import { z } from "zod";

/**
 * A path pattern matched against the request's path with its segments percent-decoded: literal
 * segments, `*` within one segment (`/v1/batches/*`), and a last `**` for one or more further segments
 * (`/v1/files/**`).
 */
const pathPattern = z
  .string()
  .refine(
    (p) =>
      p.startsWith("/v1/") &&
      !/[%?#\\]/.test(p) &&
      p
        .slice(1)
        .split("/")
        .every((seg, i, all) => seg !== "" && seg !== "." && seg !== ".." && (seg !== "**" || i === all.length - 1)),
    "must be a path under /v1/ such as /v1/models/* (literal segments, * within a segment, a last ** for deeper paths; no empty, '.' or '..' segments, no %, ? or \\)",
  );

const ruleSchema = z.strictObject({
  methods: z
    .array(z.string().regex(/^[A-Za-z]+$/, "must be an HTTP method such as GET").transform((m) => m.toUpperCase()))
    .min(1, "list at least one method, e.g. [GET]"),
  path: pathPattern,
});

export const passthroughSchema = z.strictObject({
  /** Default: retrieving a model (`GET /v1/models/{id}`) and nothing else. */
  allow: z.array(ruleSchema).default([{ methods: ["GET"], path: "/v1/models/*" }]),
});

export interface PassthroughRule {
  readonly methods: ReadonlySet<string>;
  readonly path: string;
  /** Whether a normalised, decoded path matches the rule's pattern. */
  readonly test: (path: string) => boolean;
}

export interface PassthroughPolicy {
  readonly allow: readonly PassthroughRule[];
}

const escape = (text: string): string => text.replace(/[\\^$.|+?()[\]{}]/g, "\\$&");

function compilePath(pattern: string): (path: string) => boolean {
  const body = pattern
    .split("/")
    .slice(1)
    .map((seg) => (seg === "**" ? "[^/]+(?:/[^/]+)*" : seg.split("*").map(escape).join("[^/]+")))
    .join("/");
  const re = new RegExp(`^/${body}$`, "s");
  return (path) => re.test(path);
}

export function compilePassthrough(raw: z.infer<typeof passthroughSchema>): PassthroughPolicy {
  return {
    allow: raw.allow.map((r) => ({ methods: new Set(r.methods), path: r.path, test: compilePath(r.path) })),
  };
}
