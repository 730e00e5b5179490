/** Escaping and number formatting shared by every page. */

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** At most `digits` decimals without trailing zeros: 37.5, 0.41, 6, 1234.6. */
export function formatNumber(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return String(value);
  const rounded = Number(value.toFixed(digits));
  return (Object.is(rounded, -0) ? 0 : rounded).toString();
}

/** Like formatNumber but always signed, for differences: +0.41, -1.4, 0. */
export function formatSigned(value: number, digits = 2): string {
  const text = formatNumber(value, digits);
  return value > 0 && text !== "0" ? `+${text}` : text;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(1)} s`;
  const m = s / 60;
  return m < 120 ? `${m.toFixed(1)} min` : `${(m / 60).toFixed(1)} h`;
}

/** Hours of a duration, one decimal (two below an hour): 3.7, 38.9, 0.46, and <0.01 for a few seconds. */
export function formatHours(ms: number): string {
  const hours = ms / 3_600_000;
  if (hours > 0 && hours < 0.005) return "<0.01";
  return formatNumber(hours, hours < 1 ? 2 : 1);
}

/** JSON safe to embed in <script>: `<` escaped so no string can close the element. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(
    /\u2029/g,
    "\\u2029",
  );
}

/** Minimal inline markup for free text: `code`, **bold**, [text](href). Input is escaped first. */
export function inlineMarkup(text: string): string {
  return escapeHtml(text)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, '<a href="$2">$1</a>');
}

export function paragraphs(text: string): string {
  return text.trim().split(/\n\s*\n/).map((paragraph) => `<p>${inlineMarkup(paragraph.trim())}</p>`).join(
    "\n",
  );
}
