// What the span says about the provider's answer (gen_ai.response.id, .model, .finish_reasons),
// found by scanning the bytes for those keys rather than parsing the answer: OpenAI-compatible servers
// write `id` and `model` first, and every stream chunk carries `finish_reason` (null until the end).

export interface ResponseMeta {
  id: string | null;
  model: string | null;
  /** Distinct non-null finish reasons, in order of appearance (one per choice). */
  readonly finishReasons: string[];
}

export const newResponseMeta = (): ResponseMeta => ({ id: null, model: null, finishReasons: [] });

const ID = Buffer.from('"id":');
const MODEL = Buffer.from('"model":');
const FINISH = Buffer.from('"finish_reason":');
/** How far from either end of an answer `id` and `model` are looked for (first, or last in embeddings). */
const EDGE_BYTES = 1024;
const MAX_VALUE = 256;

/** The JSON string value after `key` at `at`, or null (null, a number, too long, cut off). */
function stringAfter(buf: Buffer, at: number, keyLength: number): { value: string; end: number } | null {
  let i = at + keyLength;
  while (buf[i] === 0x20 || buf[i] === 0x09) i++;
  if (buf[i] !== 0x22) return null;
  const start = i + 1;
  let escaped = false;
  for (let j = start; j < buf.length && j - start <= MAX_VALUE; j++) {
    const c = buf[j];
    if (c === 0x5c) {
      escaped = true;
      j++;
    } else if (c === 0x22) {
      const raw = buf.toString("utf8", start, j);
      try {
        return { value: escaped ? (JSON.parse(`"${raw}"`) as string) : raw, end: j + 1 };
      } catch {
        return null;
      }
    }
  }
  return null;
}

function edgeString(buf: Buffer, key: Buffer): string | null {
  const first = buf.indexOf(key);
  if (first !== -1 && first <= EDGE_BYTES) return stringAfter(buf, first, key.length)?.value ?? null;
  const last = buf.lastIndexOf(key);
  return last !== -1 && last >= buf.length - EDGE_BYTES ? (stringAfter(buf, last, key.length)?.value ?? null) : null;
}

/** Notes what `bytes` (a whole answer, or a stream's bytes as they pass) says about the answer. */
export function scanResponseMeta(meta: ResponseMeta, bytes: Buffer): void {
  if (meta.id === null) meta.id = edgeString(bytes, ID);
  if (meta.model === null) meta.model = edgeString(bytes, MODEL);
  for (let at = bytes.indexOf(FINISH); at !== -1; at = bytes.indexOf(FINISH, at + FINISH.length)) {
    const found = stringAfter(bytes, at, FINISH.length);
    if (found && !meta.finishReasons.includes(found.value)) meta.finishReasons.push(found.value);
  }
}

/** What a whole buffered answer says about itself. */
export function responseMetaOf(answer: Buffer): ResponseMeta {
  const meta = newResponseMeta();
  scanResponseMeta(meta, answer);
  return meta;
}
