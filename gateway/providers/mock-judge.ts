// `mock/judge`: a judge model that answers JSON deterministically from what it is asked, so judging can
// be tried and tested without a key. `mock/judge-garbage` answers prose, as a judge that ignored its
// instructions would. The rules (README, "The mock provider"):
// - The judged texts are the `<output>...</output>` blocks of the messages (all the messages' text
//   when there is none). In each, `[[score: 0.8]]` (0..1, the last one wins) is its score, 1 without
//   one; `[[category: B]]` its factuality category; `[[invalid]]` makes the answer well-formed JSON of
//   the wrong shape.
// - The answer's shape follows the requested `response_format` JSON schema: properties with `choice`
//   (pairwise: the block with the higher score, the first on a tie, as a position-biased judge would),
//   with `category` (factuality: the marker's, else C for a score of at least 0.5 and D below), else
//   the verdict `{"pass", "score", "reason"}` of the last block (pass at a score of at least 0.5).

const BLOCK = /<output>([\s\S]*?)<\/output>/g;
const SCORE = /\[\[score:\s*([0-9]*\.?[0-9]+)\s*\]\]/g;
const CATEGORY = /\[\[category:\s*([A-E])\s*\]\]/g;
const INVALID = "[[invalid]]";

export const JUDGE_GARBAGE = "Both answers look reasonable to me; I would lean towards the first one.";

interface Judged {
  readonly score: number;
  readonly category: string | null;
}

function lastMatch(re: RegExp, text: string): string | null {
  let last: string | null = null;
  for (const m of text.matchAll(re)) last = m[1] ?? null;
  return last;
}

function judged(text: string): Judged {
  const raw = lastMatch(SCORE, text);
  const n = raw === null ? NaN : Number(raw);
  return { score: Number.isFinite(n) && n >= 0 && n <= 1 ? n : 1, category: lastMatch(CATEGORY, text) };
}

const textOf = (v: unknown): string =>
  typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v);

/** The properties the request's `response_format: {type: json_schema}` asks for, or none. */
function schemaProperties(body: Record<string, unknown>): readonly string[] {
  const format = body["response_format"];
  if (format === null || typeof format !== "object") return [];
  const schema = (format as { json_schema?: { schema?: { properties?: unknown } } }).json_schema?.schema;
  const props = schema?.properties;
  return props !== null && typeof props === "object" ? Object.keys(props) : [];
}

/** The mock judge's answer to a chat request body. */
export function mockJudgeAnswer(body: Record<string, unknown>): string {
  const messages = Array.isArray(body["messages"]) ? (body["messages"] as { content?: unknown }[]) : [];
  const all = messages.map((m) => textOf(m.content)).join("\n");
  const blocks = [...all.matchAll(BLOCK)].map((m) => m[1] ?? "");
  const texts = blocks.length > 0 ? blocks : [all];
  if (texts.some((t) => t.includes(INVALID))) return JSON.stringify({ verdict: "looks fine" });
  const props = schemaProperties(body);
  const last = judged(texts[texts.length - 1] ?? "");
  if (props.includes("choice")) {
    const a = judged(texts[0] ?? "").score;
    const b = judged(texts[1] ?? "").score;
    const choice = b > a ? "B" : "A";
    return JSON.stringify({ choice, reason: `mock judge: A scores ${a}, B scores ${b}` });
  }
  if (props.includes("category")) {
    const category = last.category ?? (last.score >= 0.5 ? "C" : "D");
    return JSON.stringify({ category, reason: `mock judge: category ${category}` });
  }
  return JSON.stringify({
    pass: last.score >= 0.5,
    score: last.score,
    reason: `mock judge: score ${last.score} read from the output`,
  });
}
