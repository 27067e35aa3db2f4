"""ROUGE-N recall reference values for test/unit/evals/text-metrics.test.ts.

Same definition as gateway/evals/text-metrics.ts: lower-case, split on every run of characters that
are not letters or digits (rouge_score's tokenizer), recall = sum over the reference's n-grams of
min(count in candidate, count in reference) / number of reference n-grams. Run: python3 rouge_n.py
"""
import re
from collections import Counter

def tokens(text):
    return [t for t in re.split(r"[^\w]+|_", text.lower()) if t]

def rouge_n_recall(candidate, reference, n=1):
    def grams(ts):
        return Counter(tuple(ts[i:i + n]) for i in range(len(ts) - n + 1))
    ref, cand = grams(tokens(reference)), grams(tokens(candidate))
    total = sum(ref.values())
    return 0.0 if total == 0 else sum(min(c, cand[g]) for g, c in ref.items()) / total

CASES = [
    ("The cat sat on the mat.", "the cat was on a mat", 1),
    ("the the the the", "the cat sat on the mat", 1),
    ("Paris is the capital of France", "The capital of France is Paris.", 1),
    ("Paris is the capital of France", "The capital of France is Paris.", 2),
    ("Hello, World! Hello again.", "hello world", 1),
    ("completely different words", "nothing shared here", 1),
]
for cand, ref, n in CASES:
    print(repr(cand), repr(ref), n, repr(rouge_n_recall(cand, ref, n)))
