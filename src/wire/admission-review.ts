// The AdmissionReview response as JSON text, with the patch spliced in.

/** The shape this needs of an AdmissionReview response (src/admission/review.ts has the full type). */
export interface ReviewEnvelope {
  readonly apiVersion: string;
  readonly kind: 'AdmissionReview';
  readonly response: { readonly patch?: string };
}

/**
 * The AdmissionReview as JSON text: the same value JSON.stringify gives (the patch comes last). A mutation's patch,
 * base64 and the longest field, needs no escaping: it is appended as it is instead of being scanned by JSON.stringify.
 */
export function admissionReviewText(review: ReviewEnvelope): string {
  const { patch, ...rest } = review.response;
  // Base64 (src/wire/json-patch-text.ts) never holds a character JSON escapes; the two cheap checks keep a stray
  // caller from writing broken JSON (a regex over the whole string would cost what the splice saves).
  if (patch === undefined || patch.includes('"') || patch.includes('\\')) return JSON.stringify(review);
  const head = JSON.stringify(rest);
  if (head === '{}') return JSON.stringify(review);
  return `{"apiVersion":${JSON.stringify(review.apiVersion)},"kind":"AdmissionReview","response":${head.slice(0, -1)},"patch":"${patch}"}}`;
}
