// DOM construction helpers. Every string that reaches the page goes through
// textContent / createTextNode: message content, user, room and target
// names and server errors are attacker-controlled, so no HTML strings are
// ever parsed (check-no-html.mjs enforces this at build time).

export type Child = Node | string | number | null | undefined | false;
type Listener = (ev: any) => void;
export type Props = {
  class?: string;
  dataset?: Record<string, string>;
  [attr: string]: string | number | boolean | null | undefined | Listener | Record<string, string>;
};

/**
 * h creates an element. Props: "class", "dataset", "onX" (a function:
 * addEventListener("x")), anything else becomes an attribute (true → empty
 * attribute, false/null/undefined → omitted). Children are nodes or text.
 * Inline "style" attributes are refused: the CSP forbids them; set
 * element.style.x from code instead.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = String(v);
      else if (k === 'dataset') Object.assign(el.dataset, v as Record<string, string>);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v as Listener);
      else if (k === 'style' || k.startsWith('on')) throw new Error(`h: attribute ${k} not allowed`);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

/** append adds children (nodes or text, nested arrays allowed) to parent. */
export function append(parent: Node, children: (Child | Child[])[]): void {
  for (const c of children) {
    if (Array.isArray(c)) append(parent, c);
    else if (c === null || c === undefined || c === false) continue;
    else if (typeof c === 'string' || typeof c === 'number') parent.appendChild(document.createTextNode(String(c)));
    else parent.appendChild(c);
  }
}

/** setChildren replaces all children of parent. */
export function setChildren(parent: Element, ...children: (Child | Child[])[]): void {
  parent.replaceChildren();
  append(parent, children);
}

// ---- search highlighting -------------------------------------------------

/**
 * foldChar folds one code point as the server does (internal/search.Fold,
 * Go's unicode.ToLower): its simple lower-case mapping, always one code
 * point, so that "İ" becomes "i", while "ſ", "ς" and "ß" stay as they are
 * (a case-insensitive RegExp would match "ſ" for "s" and "ς" for "σ"; the
 * server does not). toLowerCase of a single code point is that mapping
 * except where Unicode's full mapping is longer (only "İ", to "i" plus a
 * combining dot), whose first code point is the simple one. Checked for
 * every code point (Node.js, Unicode 17, against Go 1.26): the same, but
 * for the 55 letters whose case pairs came after Go's Unicode tables
 * (15.0), such as Garay's and a few Latin ones, which a newer browser
 * folds and the server does not.
 */
function foldChar(c: string): string {
  const u = c.charCodeAt(0);
  if (u < 0x80) return u >= 0x41 && u <= 0x5a ? String.fromCharCode(u + 0x20) : c;
  const l = c.toLowerCase();
  const first = l.codePointAt(0) ?? 0;
  return l.length === (first > 0xffff ? 2 : 1) ? l : String.fromCodePoint(first);
}

/**
 * Highlighter marks what the server matched: the whole query as one
 * literal string (AND, OR, NOT, quotes, * and - are just characters),
 * wherever it occurs in the text once both are folded by foldChar. Every
 * non-overlapping occurrence, left to right, is marked.
 */
export class Highlighter {
  private readonly folded: string;

  constructor(q: string) {
    let f = '';
    for (const c of q) f += foldChar(c);
    this.folded = f;
  }

  /** render returns text as a fragment with matches wrapped in <mark>. */
  render(text: string): DocumentFragment {
    const frag = document.createDocumentFragment();
    // The folded text, and for each of its UTF-16 offsets the offset in
    // text it came from (folding keeps code points, not always lengths).
    let folded = '';
    const at: number[] = [];
    let i = 0;
    for (const c of text) {
      const f = foldChar(c);
      for (let k = 0; k < f.length; k++) at.push(i);
      folded += f;
      i += c.length;
    }
    at.push(text.length);
    let last = 0;
    if (this.folded !== '') {
      for (let j = folded.indexOf(this.folded); j >= 0; j = folded.indexOf(this.folded, j + this.folded.length)) {
        const start = at[j], end = at[j + this.folded.length];
        if (start > last) frag.appendChild(document.createTextNode(text.slice(last, start)));
        const mark = document.createElement('mark');
        mark.textContent = text.slice(start, end);
        frag.appendChild(mark);
        last = end;
      }
    }
    if (last < text.length) frag.appendChild(document.createTextNode(text.slice(last)));
    return frag;
  }
}
