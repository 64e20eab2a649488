// PEM certificate blocks of a bundle, found by a linear scan: the lazy regex this replaces rescanned the rest of the
// text from every BEGIN line that has no END after it (quadratic on a bundle of BEGIN lines).

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';

/** Each `BEGIN … END` block, in order, as text.match(/BEGIN[\s\S]+?END/g) would return them. */
export function pemCertificates(text: string): string[] {
  const out: string[] = [];
  let from = 0;
  for (;;) {
    const begin = text.indexOf(BEGIN, from);
    if (begin < 0) return out;
    // At least one character between the markers, as [\s\S]+? requires.
    const end = text.indexOf(END, begin + BEGIN.length + 1);
    // No END after this BEGIN means none after a later one either.
    if (end < 0) return out;
    from = end + END.length;
    out.push(text.slice(begin, from));
  }
}
