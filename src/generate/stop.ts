/**
 * Stop strings over streamed text. A stop string may arrive split across tokens, so text that could
 * be the start of one is held back until the next piece decides it.
 */
export class StopStringMatcher {
  private held = '';
  /** The stop string that ended the text, once one has. */
  matched: string | null = null;

  constructor(private readonly stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  /** Feed more text; returns what can be shown now (everything before a stop string once one is seen). */
  push(text: string): string {
    if (this.matched !== null) return '';
    const buf = this.held + text;
    let at = -1;
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) [at, this.matched] = [i, s];
    }
    if (at >= 0) {
      this.held = '';
      return buf.slice(0, at);
    }
    const keep = this.partialSuffix(buf);
    this.held = buf.slice(buf.length - keep);
    return buf.slice(0, buf.length - keep);
  }

  /** The text still held back (the stream ended without completing a stop string). */
  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }

  get stopped(): boolean {
    return this.matched !== null;
  }

  /** Length of the longest suffix of buf that is a proper prefix of some stop string. */
  private partialSuffix(buf: string): number {
    let best = 0;
    for (const s of this.stops)
      for (let len = Math.min(s.length - 1, buf.length); len > best; len--)
        if (buf.endsWith(s.slice(0, len))) {
          best = len;
          break;
        }
    return best;
  }
}
