/**
 * The statements Atlas sends to PostgreSQL for one migration file. `atlas migrate apply` never
 * sends a file whole: the executor splits it with `migrate.FileStmtDecls(drv, f)`, which for
 * PostgreSQL is the driver's own scanner (ariga.io/atlas v1.2.3, sql/postgres `ScanStmts`:
 * sql/migrate/lex.go with MatchBegin, MatchBeginAtomic, MatchDollarQuote, EscapedStringExt),
 * and runs each piece with one ExecContext. This is our implementation of those rules, checked
 * against Atlas's own library in test/integration/atlasStatements.test.ts. Where Atlas and
 * PostgreSQL read a file differently, this follows Atlas, quirks included:
 *
 * - Block comments do not nest: `/*` ends at the first `*\/`. A comment that never closes
 *   (also `--` on a last line without a line break) is not a comment: its text is scanned.
 * - `'`, `"` and `` ` `` quote. No backslash escapes, not even in `E'...'` (v1.2.3 tests the
 *   byte before the position after the quote, which is the quote itself), so `E'\''` ends
 *   at the second quote.
 * - Dollar quotes: `$$` or `$tag$` where the tag starts with [A-Za-z_] or U+00C8–U+00FF and
 *   goes on with [0-9A-Za-z_] or U+00C8–U+00FF (PostgreSQL accepts any non-ASCII letter). An
 *   unclosed one runs to the end of the file without error.
 * - `;` ends a statement only outside parentheses.
 * - `BEGIN ATOMIC ... END` is one statement, ended at the first inner statement starting with
 *   END; `BEGIN<space>... END;` too (any BEGIN followed by white space, at a statement's start
 *   or after white space: `BEGIN TRANSACTION; ...; END;` is one piece).
 * - `-- atlas:delimiter X` on the first line sets the delimiter (and drops that line); so
 *   does a statement starting with `DELIMITER X` (MySQL's client command).
 * - Comments before a statement are not sent; the text is trimmed (Unicode white space) and a
 *   custom delimiter is removed from its end.
 */

export interface AtlasStatement {
  /** Byte offset of the text in the file. */
  readonly offset: number;
  /** Byte offset just after the text. */
  readonly end: number;
  /**
   * Atlas's own `Stmt.Pos`: as offset, but counted after a first-line `-- atlas:delimiter`
   * directive (Atlas drops that line before scanning).
   */
  readonly pos: number;
  /** What Atlas sends to PostgreSQL. */
  readonly text: string;
}

/** Atlas refuses to split the file: Atlas's message, `<line>:<column>: ...` when it has a place. */
export class AtlasLexError extends Error {
  constructor(
    message: string,
    /** Byte offset the message points at, when it has one. */
    readonly offset?: number,
    /** Atlas itself would crash here (a Go panic), not report an error. */
    readonly panic = false,
  ) {
    super(message);
  }
}

const EOS = -1;
const SEMICOLON = Buffer.from(";");
const DELIMITER_CMD = "delimiter";

/** Splits a migration file's bytes into the statements Atlas 1.2.3 sends for it, or throws AtlasLexError. */
export function atlasStatements(file: Buffer): AtlasStatement[] {
  const scanner = new Scanner(file, 0);
  const stmts: AtlasStatement[] = [];
  scanner.init();
  for (;;) {
    const s = scanner.stmt();
    if (s === undefined) return stmts;
    stmts.push(s);
  }
}

class Scanner {
  /** Where s.input starts in `buf` (Atlas re-slices its input; we move this offset). */
  private inStart: number;
  private pos = 0;
  private total = 0;
  private width = 0;
  private delim = SEMICOLON;

  /** `srcStart`: where this scanner's source begins in `buf`; it always runs to the end. */
  constructor(
    private readonly buf: Buffer,
    private readonly srcStart: number,
  ) {
    this.inStart = srcStart;
  }

  init(): void {
    const d = delimiterDirective(this.buf, this.srcStart);
    if (d === undefined) return;
    this.setDelim(d);
    const nl = this.buf.indexOf(0x0a, this.srcStart);
    if (nl < 0) throw this.error(this.pos, `no input found after delimiter ${goQuote(d)}`);
    this.inStart = nl + 1;
  }

  get consumed(): number {
    return this.total;
  }

  private get inputLength(): number {
    return this.buf.length - this.inStart;
  }

  private next(): number {
    if (this.pos >= this.inputLength) return EOS;
    const [r, w] = decodeRune(this.buf, this.inStart + this.pos);
    this.width = w;
    this.addPos(w);
    return r;
  }

  private pick(): number {
    const [p, w, t] = [this.pos, this.width, this.total];
    const r = this.next();
    [this.pos, this.width, this.total] = [p, w, t];
    return r;
  }

  private addPos(p: number): void {
    this.pos += p;
    this.total += p;
  }

  private hasPrefixAt(i: number, prefix: Buffer): boolean {
    const at = this.inStart + i;
    return at >= 0 && this.buf.subarray(at, at + prefix.length).equals(prefix);
  }

  /** One statement, or undefined at the end of the input (Atlas's io.EOF). */
  stmt(): AtlasStatement | undefined {
    let depth = 0;
    let openingPos = 0;
    let textEnd: number;
    this.skipSpaces();
    for (;;) {
      const r = this.next();
      if (r === EOS) {
        if (depth > 0) throw this.error(openingPos, "unclosed '('");
        if (this.pos > 0) {
          textEnd = this.inputLength;
          break;
        }
        return undefined;
      } else if (r === 0x28 /* ( */) {
        if (depth === 0) openingPos = this.pos;
        depth++;
      } else if (r === 0x29 /* ) */) {
        if (depth === 0) throw this.error(this.pos, "unexpected ')'");
        depth--;
      } else if (r === 0x27 || r === 0x22 || r === 0x60 /* ' " ` */) {
        this.skipQuote(r);
      } else if (
        this.pos === 1 &&
        this.inputLength > DELIMITER_CMD.length &&
        this.buf
          .subarray(this.inStart, this.inStart + DELIMITER_CMD.length)
          .toString("latin1")
          .toLowerCase() === DELIMITER_CMD
      ) {
        this.addPos(DELIMITER_CMD.length - 1);
        this.delimCmd();
        this.skipSpaces();
      } else if (depth === 0 && this.hasPrefixAt(this.pos - this.width, this.delim)) {
        this.addPos(this.delim.length - this.width);
        textEnd = this.pos;
        break;
      } else if (r === 0x24 /* $ */ && dollarQuoteAt(this.buf, this.inStart + this.pos - 1) > 0) {
        this.skipDollarQuote();
      } else if (r === 0x2d /* - */ && this.pick() === 0x2d) {
        this.next();
        this.comment("--", "\n");
      } else if (r === 0x2f /* / */ && this.pick() === 0x2a /* * */) {
        this.next();
        this.comment("/*", "*/");
      } else if (this.delim.equals(SEMICOLON) && beginAtomicAt(this.buf, this.inStart + this.pos - 1) > 0) {
        if (this.skipBlock(beginAtomicAt, (text) => endAt(text) > 0)) {
          textEnd = this.pos;
          break;
        }
      } else if (
        this.delim.equals(SEMICOLON) &&
        ((this.pos === 1 && beginAt(this.buf, this.inStart + this.pos - 1) > 0) ||
          (this.pos > 1 && beginAt(this.buf, this.inStart + this.pos - 2) > 0))
      ) {
        const delim = this.delim;
        const ends = (text: Buffer) => {
          const m = endAt(text);
          return m > 0 && (m === text.length || text.subarray(m).equals(delim));
        };
        if (this.skipBlock(beginAt, ends)) {
          textEnd = this.pos;
          break;
        }
      }
    }
    return this.emit(textEnd);
  }

  private skipQuote(quote: number): void {
    const pos = this.pos;
    for (;;) {
      const r = this.next();
      if (r === EOS) throw this.error(pos, `unclosed quote ${goQuoteRune(quote)}`);
      if (r === quote) return;
    }
  }

  private skipDollarQuote(): void {
    const at = this.inStart + this.pos - 1;
    const tag = this.buf.subarray(at, at + dollarQuoteAt(this.buf, at));
    this.addPos(tag.length - 1);
    for (;;) {
      const r = this.next();
      // Atlas fails only when no delimiter is set, which never happens: the quote runs to the end.
      if (r === EOS) return;
      if (r === 0x24 && this.hasPrefixAt(this.pos - 1, tag)) {
        this.addPos(tag.length - 1);
        return;
      }
    }
  }

  /**
   * BEGIN ATOMIC / BEGIN blocks: an inner scanner reads statements after the opening words
   * until `isEnd` accepts one; false when it cannot (the opening words stay skipped, as in Atlas).
   */
  private skipBlock(opening: (buf: Buffer, at: number) => number, isEnd: (text: Buffer) => boolean): boolean {
    const m = opening(this.buf, this.inStart + this.pos - 1);
    if (m <= 0) return false;
    this.addPos(m - 1);
    const body = new Scanner(this.buf, this.inStart + this.pos);
    try {
      body.init();
      for (;;) {
        const s = body.stmt();
        if (s === undefined) return false;
        if (isEnd(Buffer.from(s.text))) break;
      }
    } catch (err) {
      if (err instanceof AtlasLexError && !err.panic) return false;
      throw err;
    }
    this.addPos(body.consumed);
    return true;
  }

  private comment(left: string, right: string): void {
    const i = this.buf.indexOf(right, this.inStart + this.pos);
    if (i < 0) return; // Not a comment.
    const length = i - (this.inStart + this.pos);
    if (this.pos !== left.length) {
      this.addPos(length + right.length);
      return;
    }
    this.addPos(length + right.length);
    this.inStart += this.pos;
    this.pos = 0;
    this.skipSpaces();
  }

  private skipSpaces(): void {
    while (this.inStart < this.buf.length) {
      const [r, w] = decodeRune(this.buf, this.inStart);
      if (!isSpace(r)) return;
      this.inStart += w;
      this.total += w;
    }
  }

  private emit(textEnd: number): AtlasStatement {
    const start = this.inStart;
    const end = this.inStart + textEnd;
    const pos = this.total - textEnd;
    this.inStart += this.pos;
    this.pos = 0;
    let last = end;
    if (!this.delim.equals(SEMICOLON) && this.buf.subarray(end - this.delim.length, end).equals(this.delim)) {
      if (end - this.delim.length >= start) last = end - this.delim.length;
    }
    const [from, to] = trimSpace(this.buf, start, last);
    return { offset: from, end: to, pos, text: this.buf.subarray(from, to).toString("utf8") };
  }

  /** MySQL's `DELIMITER X` client command at a statement's start (Atlas honours it for every driver). */
  private delimCmd(): void {
    if (this.pick() !== 0x20) return;
    for (let r = this.pick(); r !== EOS && r !== 0x0a; r = this.next()) {
      // Up to and including the line break.
    }
    let delim = this.buf.subarray(this.inStart + DELIMITER_CMD.length, this.inStart + this.pos).toString("utf8");
    delim = goTrimSpace(delim);
    if (delim === "'") {
      // Atlas slices delim[1:0] here and the CLI crashes.
      throw new AtlasLexError("panic: runtime error: slice bounds out of range [1:0]", undefined, true);
    }
    if (delim.startsWith("'") && delim.endsWith("'")) {
      delim = delim.slice(1, -1).replace(/''/g, "'");
    }
    this.setDelim(delim);
    this.inStart += this.pos;
    this.pos = 0;
  }

  private setDelim(d: string): void {
    if (d === "") throw new AtlasLexError("empty delimiter");
    this.delim = Buffer.from(d.replace(/\\[nrt]/g, (e) => ({ "\\n": "\n", "\\r": "\r", "\\t": "\t" })[e] ?? e));
  }

  private error(pos: number, message: string): AtlasLexError {
    const p = this.inStart - this.srcStart + pos;
    const src = this.buf.subarray(this.srcStart, this.srcStart + p);
    let line = 1;
    let lastNewline = -1;
    for (let i = 0; i < src.length; i++) {
      if (src[i] === 0x0a) {
        line++;
        lastNewline = i;
      }
    }
    const col = line === 1 ? p : p - lastNewline - 1;
    return new AtlasLexError(`${line}:${col}: ${message}`, this.srcStart + p);
  }
}

/** Go's `\s` (RE2's Perl class): tab, line feed, form feed, carriage return, space. No vertical tab. */
function isReSpace(b: number): boolean {
  return b === 0x09 || b === 0x0a || b === 0x0c || b === 0x0d || b === 0x20;
}

/** Length of `\s*WORD` (ASCII case-insensitive) at `at`, or -1. */
function spacesThenWord(buf: Buffer | Uint8Array, at: number, word: string): number {
  let i = at;
  while (i < buf.length && isReSpace(buf[i])) i++;
  for (let k = 0; k < word.length; k++, i++) {
    if (i >= buf.length || (buf[i] | 0x20) !== word.charCodeAt(k)) return -1;
  }
  return i - at;
}

/** Length of `\s+` at `at` (greedy), or -1 when there is none. */
function requiredSpaces(buf: Buffer | Uint8Array, at: number): number {
  let i = at;
  while (i < buf.length && isReSpace(buf[i])) i++;
  return i > at ? i - at : -1;
}

/** `(?i)^\s*BEGIN\s+` at `at`: the match's length, or -1. */
function beginAt(buf: Buffer, at: number): number {
  if (at < 0) return -1;
  const word = spacesThenWord(buf, at, "begin");
  if (word < 0) return -1;
  const spaces = requiredSpaces(buf, at + word);
  return spaces < 0 ? -1 : word + spaces;
}

/** `(?i)^\s*BEGIN\s+ATOMIC\s+` at `at`: the match's length, or -1. */
function beginAtomicAt(buf: Buffer, at: number): number {
  const begin = beginAt(buf, at);
  if (begin < 0) return -1;
  const atomic = spacesThenWord(buf, at + begin, "atomic");
  if (atomic < 0) return -1;
  const spaces = requiredSpaces(buf, at + begin + atomic);
  return spaces < 0 ? -1 : begin + atomic + spaces;
}

/** `(?i)^\s*END\s*` at the start of a statement's text: the match's length, or -1. */
function endAt(text: Buffer): number {
  const word = spacesThenWord(text, 0, "end");
  if (word < 0) return -1;
  let i = word;
  while (i < text.length && isReSpace(text[i])) i++;
  return i;
}

/** Atlas's dollar-quote opening (`^\$([A-Za-zÈ-ÿ_][\wÈ-ÿ]*)*\$`) at `at`: its length, or -1. */
function dollarQuoteAt(buf: Buffer, at: number): number {
  if (buf[at] !== 0x24) return -1;
  let i = at + 1;
  const tagRune = (first: boolean): number => {
    if (i >= buf.length) return 0;
    const [r, w] = decodeRune(buf, i);
    const ascii =
      (r >= 0x41 && r <= 0x5a) || (r >= 0x61 && r <= 0x7a) || r === 0x5f || (!first && r >= 0x30 && r <= 0x39);
    return ascii || (r >= 0xc8 && r <= 0xff) ? w : 0;
  };
  let w = tagRune(true);
  if (w > 0) {
    i += w;
    while ((w = tagRune(false)) > 0) i += w;
  }
  return buf[i] === 0x24 ? i + 1 - at : -1;
}

/**
 * The first line's `-- atlas:delimiter <arg>`, as Atlas's directive regexp
 * `^([ -~]*)atlas:(\w+)(?: +(.+))*` with the prefix "-- " reads it (the greedy prefix takes
 * the last `atlas:` of the line's printable run).
 */
export function delimiterDirective(buf: Buffer, start = 0): string | undefined {
  let run = start;
  while (run < buf.length && buf[run] >= 0x20 && buf[run] <= 0x7e) run++;
  const word = (b: number) =>
    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f;
  for (let k = run - start; k >= 0; k--) {
    const at = start + k;
    if (buf.subarray(at, at + 6).toString("latin1") !== "atlas:" || !word(buf[at + 6] ?? -1)) continue;
    let i = at + 6;
    while (i < buf.length && word(buf[i])) i++;
    const prefix = buf.subarray(start, at).toString("latin1");
    const name = buf.subarray(at + 6, i).toString("latin1");
    if (prefix !== "-- " || name !== "delimiter") return undefined;
    let spaces = i;
    while (spaces < buf.length && buf[spaces] === 0x20) spaces++;
    const lineEnd = buf.indexOf(0x0a, spaces) < 0 ? buf.length : buf.indexOf(0x0a, spaces);
    if (spaces === i) return "";
    if (lineEnd > spaces) return buf.subarray(spaces, lineEnd).toString("utf8");
    // Only spaces: `.+` takes the last of them back when there are two or more.
    return spaces - i >= 2 ? " " : "";
  }
  return undefined;
}

/** Go's utf8.DecodeRune: [rune, width]; an invalid byte is U+FFFD of width 1. */
export function decodeRune(buf: Buffer, at: number): [number, number] {
  const b0 = buf[at];
  if (b0 < 0x80) return [b0, 1];
  const cont = (i: number) => at + i < buf.length && (buf[at + i] & 0xc0) === 0x80;
  if (b0 >= 0xc2 && b0 <= 0xdf && cont(1)) return [((b0 & 0x1f) << 6) | (buf[at + 1] & 0x3f), 2];
  if (b0 >= 0xe0 && b0 <= 0xef && cont(1) && cont(2)) {
    const r = ((b0 & 0x0f) << 12) | ((buf[at + 1] & 0x3f) << 6) | (buf[at + 2] & 0x3f);
    if (r >= 0x800 && (r < 0xd800 || r > 0xdfff)) return [r, 3];
  }
  if (b0 >= 0xf0 && b0 <= 0xf4 && cont(1) && cont(2) && cont(3)) {
    const r = ((b0 & 0x07) << 18) | ((buf[at + 1] & 0x3f) << 12) | ((buf[at + 2] & 0x3f) << 6) | (buf[at + 3] & 0x3f);
    if (r >= 0x10000 && r <= 0x10ffff) return [r, 4];
  }
  return [0xfffd, 1];
}

/** Go's unicode.IsSpace. */
function isSpace(r: number): boolean {
  if (r <= 0xff) return (r >= 0x09 && r <= 0x0d) || r === 0x20 || r === 0x85 || r === 0xa0;
  return (
    r === 0x1680 ||
    (r >= 0x2000 && r <= 0x200a) ||
    r === 0x2028 ||
    r === 0x2029 ||
    r === 0x202f ||
    r === 0x205f ||
    r === 0x3000
  );
}

/** Go's strings.TrimSpace over buf[start, end): the trimmed range. */
function trimSpace(buf: Buffer, start: number, end: number): [number, number] {
  let from = start;
  while (from < end) {
    const [r, w] = decodeRune(buf, from);
    if (!isSpace(r) || from + w > end) break;
    from += w;
  }
  let to = end;
  while (to > from) {
    // The last rune: step back over continuation bytes (at most 3), then decode.
    let s = to - 1;
    while (s > from && to - s < 4 && (buf[s] & 0xc0) === 0x80) s--;
    const [r, w] = decodeRune(buf, s);
    const [lastRune, lastStart] = s + w === to ? [r, s] : [0xfffd, to - 1];
    if (!isSpace(lastRune)) break;
    to = lastStart;
  }
  return [from, to];
}

function goTrimSpace(s: string): string {
  const b = Buffer.from(s);
  const [from, to] = trimSpace(b, 0, b.length);
  return b.subarray(from, to).toString("utf8");
}

/** Go's %q of a rune, for the quote characters the scanner reports. */
function goQuoteRune(r: number): string {
  return r === 0x27 ? "'\\''" : `'${String.fromCharCode(r)}'`;
}

/** Go's %q of a string, for the printable text of a directive. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}
