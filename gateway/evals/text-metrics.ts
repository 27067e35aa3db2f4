// Text measures the deterministic assertions use: ROUGE-N recall, sentence counting and finding JSON
// values inside free text. Pure functions.

/**
 * Lower-cased alphanumeric tokens: every run of characters that are not letters or digits separates
 * tokens (the tokenizer of Google's `rouge_score`, extended from ASCII to Unicode letters and digits).
 */
export function rougeTokens(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t !== "");
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const gram = tokens.slice(i, i + n).join(" ");
    counts.set(gram, (counts.get(gram) ?? 0) + 1);
  }
  return counts;
}

/**
 * ROUGE-N recall: the share of the reference's n-grams (counted with multiplicity) that the candidate
 * also has, `sum(min(count_cand, count_ref)) / count_ref_total`. A reference with no n-gram scores 0.
 */
export function rougeNRecall(candidate: string, reference: string, n = 1): number {
  const ref = ngramCounts(rougeTokens(reference), n);
  const cand = ngramCounts(rougeTokens(candidate), n);
  let total = 0;
  let overlap = 0;
  for (const [gram, count] of ref) {
    total += count;
    overlap += Math.min(count, cand.get(gram) ?? 0);
  }
  return total === 0 ? 0 : overlap / total;
}

const SENTENCES = new Intl.Segmenter("en", { granularity: "sentence" });

/** Sentences in `text` by Unicode sentence boundaries (UAX #29); segments without a letter or digit do not count. */
export function countSentences(text: string): number {
  let count = 0;
  for (const { segment } of SENTENCES.segment(text)) if (/[\p{L}\p{N}]/u.test(segment)) count++;
  return count;
}

/** The end (exclusive) of the JSON object or array opening at `start`, by bracket balance; -1 if unbalanced. */
function balancedEnd(text: string, start: number): number {
  const stack: string[] = [];
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{" || c === "[") stack.push(c === "{" ? "}" : "]");
    else if (c === "}" || c === "]") {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return i + 1;
    }
  }
  return -1;
}

/**
 * Every JSON object or array embedded in `text`, outermost first and left to right (a value found is
 * skipped over, so nested values are not listed again). Bounded: at most `limit` values.
 */
export function extractJsonValues(text: string, limit = 100): unknown[] {
  const found: unknown[] = [];
  let i = 0;
  while (i < text.length && found.length < limit) {
    const c = text[i];
    if (c !== "{" && c !== "[") {
      i++;
      continue;
    }
    const end = balancedEnd(text, i);
    if (end !== -1) {
      try {
        found.push(JSON.parse(text.slice(i, end)));
        i = end;
        continue;
      } catch {
        // not JSON: try the next opening bracket
      }
    }
    i++;
  }
  return found;
}
