// A prompt's segment dimension (docs/design.md, "Segments"): the bounded label each request falls in,
// so statistics can be read per segment. Declared in the prompt file in one of three forms:
//   segment: { variable: tier }                  an `enum` string variable: each value is a segment
//   segment: { variable: text, bands: [200, 1000] }
//                                                a string variable's length: "<200", "200-999", ">=1000"
//   segment: { header: [free, pro, enterprise] } the X-Prompt-Segment request header, one of these values
import { GatewayError } from "../errors/gateway-error.ts";
import type { SegmentSpec, VariableSpec } from "./types.ts";

/** The request header that names the segment when a prompt declares `segment: { header: [...] }`. */
export const SEGMENT_HEADER = "X-Prompt-Segment";
/** At most this many segments per prompt: each one is a hash per version and minute in the store. */
export const MAX_SEGMENTS = 20;
/** Segment values as they appear in store keys and tables: no ':' and no spaces. */
const SEGMENT_VALUE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;

type Fail = (field: string, reason: string) => never;

/** Validates a prompt file's `segment` against its variables; `fail` throws the file's error. */
export function checkSegment(raw: unknown, variables: Readonly<Record<string, VariableSpec>>, fail: Fail): SegmentSpec {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    fail("segment", "expected { variable: name }, { variable: name, bands: [...] } or { header: [values] }");
  const spec = raw as Record<string, unknown>;
  const keys = Object.keys(spec).sort().join(",");
  if (keys === "header") return { kind: "header", values: checkValues(spec.header, "segment.header", fail) };
  if (keys !== "variable" && keys !== "bands,variable")
    fail("segment", "expected { variable: name }, { variable: name, bands: [...] } or { header: [values] }");
  const variable = spec.variable;
  if (typeof variable !== "string" || !Object.hasOwn(variables, variable))
    fail(
      "segment.variable",
      `must name a declared variable (declared: ${Object.keys(variables).join(", ") || "none"})`,
    );
  const declared = variables[variable]!;
  if (declared.type !== "string") fail("segment.variable", `"${variable}" must be a string variable`);
  if (spec.bands === undefined) {
    if (declared.enum === undefined)
      fail(
        "segment.variable",
        `"${variable}" has no enum: declare its values (enum: [...]) or segment by its length (bands: [...])`,
      );
    return {
      kind: "enum",
      variable: variable,
      values: checkValues(declared.enum, `variables.${variable}.enum`, fail),
    };
  }
  const bands = spec.bands;
  if (
    !Array.isArray(bands) ||
    bands.length === 0 ||
    bands.length >= MAX_SEGMENTS ||
    !bands.every(
      (b, i) => Number.isSafeInteger(b) && (b as number) > 0 && (i === 0 || (b as number) > (bands[i - 1] as number)),
    )
  )
    fail(
      "segment.bands",
      `expected 1 to ${MAX_SEGMENTS - 1} increasing positive whole lengths (characters), e.g. [200, 1000]`,
    );
  return { kind: "bands", variable: variable, bands: bands as number[] };
}

function checkValues(values: unknown, field: string, fail: Fail): string[] {
  if (!Array.isArray(values) || values.length === 0 || values.length > MAX_SEGMENTS)
    fail(field, `expected a list of 1 to ${MAX_SEGMENTS} segment values`);
  const list = values as unknown[];
  for (const v of list)
    if (typeof v !== "string" || !SEGMENT_VALUE.test(v))
      fail(
        field,
        `segment values are 1-32 letters, digits, _ . - (starting with a letter or digit), got ${JSON.stringify(v)}`,
      );
  if (new Set(list).size !== list.length) fail(field, "lists a value twice");
  return list as string[];
}

/** Every segment a spec can give, in order: the readout lists them (bands as "<200", "200-999", ">=1000"). */
export function segmentValues(spec: SegmentSpec): string[] {
  if (spec.kind !== "bands") return [...spec.values];
  const { bands } = spec;
  return [`<${bands[0]}`, ...bands.slice(1).map((b, i) => `${bands[i]}-${b - 1}`), `>=${bands[bands.length - 1]}`];
}

/** The band a length falls in, as segmentValues names it. */
function bandOf(bands: readonly number[], length: number): string {
  let i = 0;
  while (i < bands.length && length >= bands[i]!) i++;
  if (i === 0) return `<${bands[0]}`;
  if (i === bands.length) return `>=${bands[i - 1]}`;
  return `${bands[i - 1]}-${bands[i]! - 1}`;
}

/**
 * The segment of one request, from its resolved variables (defaults applied) or the X-Prompt-Segment
 * header. Null when the prompt declares no segment, or the variable or header is absent. A header
 * value outside the declared set is refused (400, naming the allowed values) rather than counted in a
 * bucket nobody declared. Lengths are counted as a variable's `max_length` counts them (JS string length).
 */
export function segmentOf(
  spec: SegmentSpec | undefined,
  vars: Readonly<Record<string, unknown>>,
  header: string | undefined,
): string | null {
  if (spec === undefined) return null;
  if (spec.kind === "header") {
    if (header === undefined || header.trim() === "") return null;
    const value = header.trim();
    if (!spec.values.includes(value))
      throw new GatewayError(
        "invalid_request",
        `${SEGMENT_HEADER} must be one of ${spec.values.join(", ")} for this prompt, got "${value.slice(0, 64)}"`,
        { param: SEGMENT_HEADER },
      );
    return value;
  }
  const value = vars[spec.variable];
  if (typeof value !== "string") return null;
  if (spec.kind === "enum") return spec.values.includes(value) ? value : null;
  return bandOf(spec.bands, value.length);
}
