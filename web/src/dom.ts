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

const reEscape = /[.*+?^${}()|[\]\\]/g;
const cjk = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const cjkRun = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+/gu;

/**
 * searchTerms extracts the words to highlight from a search query: quoted
 * phrases and bare words; negated terms (-x) and the operators AND/OR/NOT
 * are skipped, a trailing * (prefix search) is dropped.
 */
export function searchTerms(q: string): string[] {
  const out: string[] = [];
  for (const m of q.matchAll(/(-?)"([^"]*)"?|(-?)(\S+)/g)) {
    const negated = (m[1] || m[3]) === '-';
    const quoted = m[2] !== undefined;
    let term = (quoted ? m[2] : m[4]) ?? '';
    if (negated && term !== '') continue;
    if (!quoted && /^(AND|OR|NOT)$/.test(term)) continue;
    term = term.replace(/\*+$/, '').trim();
    if (term) out.push(term);
  }
  return out;
}

function alternation(terms: string[]): RegExp | null {
  const uniq = [...new Set(terms.filter(Boolean))].sort((a, b) => b.length - a.length);
  if (!uniq.length) return null;
  return new RegExp(uniq.map((t) => t.replace(reEscape, '\\$&')).join('|'), 'giu');
}

/**
 * Highlighter finds the query's terms in text, case-insensitively (Unicode
 * case folding, so it works for Latin, Cyrillic, ... and trivially for
 * Chinese). When none of the whole terms occurs, it falls back to the
 * CJK bigrams of the terms, since a CJK-aware index matches 紧急通知 in
 * "紧急的通知".
 */
export class Highlighter {
  private readonly exact: RegExp | null;
  private readonly loose: RegExp | null;

  constructor(q: string) {
    const terms = searchTerms(q);
    this.exact = alternation(terms);
    const parts: string[] = [];
    for (const t of terms) {
      if (!cjk.test(t)) continue;
      for (const run of t.match(cjkRun) ?? []) {
        const chars = [...run];
        if (chars.length <= 2) parts.push(run);
        else for (let i = 0; i + 1 < chars.length; i++) parts.push(chars[i] + chars[i + 1]);
      }
      for (const w of t.split(cjkRun)) if (w.trim()) parts.push(w.trim());
    }
    this.loose = parts.length ? alternation(parts) : null;
  }

  /** render returns text as a fragment with matches wrapped in <mark>. */
  render(text: string): DocumentFragment {
    const frag = document.createDocumentFragment();
    let re = this.exact;
    if (re && this.loose) {
      re.lastIndex = 0;
      if (!re.test(text)) re = this.loose;
    }
    if (!re) {
      frag.appendChild(document.createTextNode(text));
      return frag;
    }
    re.lastIndex = 0;
    let last = 0;
    for (const m of text.matchAll(re)) {
      const i = m.index ?? 0;
      if (m[0] === '') continue;
      if (i > last) frag.appendChild(document.createTextNode(text.slice(last, i)));
      const mark = document.createElement('mark');
      mark.textContent = m[0];
      frag.appendChild(mark);
      last = i + m[0].length;
    }
    if (last < text.length) frag.appendChild(document.createTextNode(text.slice(last)));
    return frag;
  }
}
