/**
 * The dashboard's only way to produce HTML. Every interpolation in an `html`
 * template goes through `escapeHtml` unless it is itself the result of `html`
 * (a `SafeHtml`), so job data can only reach a page escaped: a field cannot be
 * rendered raw by forgetting to call the escape function.
 */

/** Markup that is already escaped (produced by `html` or `raw`). */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/**
 * Escapes a value for HTML text and for quoted attribute values. The one escape
 * function of the dashboard: `null`/`undefined` render as an empty string.
 */
export function escapeHtml(value: unknown): string {
  if (value === null || value === undefined) return '';
  return String(value).replace(/[&<>"'`]/g, (c) => ENTITIES[c] ?? c);
}

type Interpolation = SafeHtml | string | number | boolean | null | undefined | readonly Interpolation[];

function render(value: Interpolation): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map((v: Interpolation) => render(v)).join('');
  // false/null/undefined render nothing so `${cond && html`…`}` reads naturally.
  if (value === false || value === null || value === undefined) return '';
  return escapeHtml(value);
}

/** Tagged template: the literal parts are trusted markup, every `${…}` is escaped. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i] as Interpolation) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}

/** Trusted markup produced by our own code (e.g. the SVG chart built from numbers). Never pass job data. */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
