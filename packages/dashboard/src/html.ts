/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A piece of HTML that is already escaped. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/**
 * Tagged template that escapes every interpolated value unless it is {@link Html} (or an array of
 * them), so a tenant id can never become markup.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(value);
}

/** Joins pieces of HTML. */
export function join(parts: readonly Html[]): Html {
  return new Html(parts.map((p) => p.text).join(''));
}

/** `1,234`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A duration for humans: `850 ms`, `12 s`, `4 min`, `3.5 h`, `2 d`; `-` for null. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}

/** The page around a body. `nav` lists the links the principal may follow. */
export function layout(params: {
  base: string;
  title: string;
  nav: Array<{ href: string; label: string; current: boolean }>;
  csrfToken: string;
  body: Html;
  who: string;
}): string {
  const { base, title, nav, csrfToken, body, who } = params;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${csrfToken}">
<title>${title} · platform dashboard</title>
<link rel="stylesheet" href="${base}/assets/dashboard.css">
</head>
<body>
<header>
<strong class="brand">platform</strong>
<nav>${nav.map((item) => html`<a href="${item.href}"${item.current ? html` aria-current="page"` : ''}>${item.label}</a>`)}</nav>
<span class="who">${who}</span>
<span class="live-status" id="live-status" aria-live="polite"></span>
</header>
<main>
${body}
</main>
<script src="${base}/assets/dashboard.js"></script>
</body>
</html>
`.text;
}
