import { readFileSync } from 'node:fs';
import { request } from 'node:https';

export interface BrowserResponse {
  status: number;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HtmlForm {
  action: string;
  method: string;
  fields: URLSearchParams;
}

const maxRedirects = 20;

/**
 * Just enough of a browser to walk the provider's pages: HTTPS trusting the testenv IdP's CA, a cookie jar,
 * redirects followed (except to the loopback redirect URI, which is handed back like a native app sees it),
 * and forms read from the HTML.
 */
export class IdpBrowser {
  private readonly cookies = new Map<string, string>();
  private readonly ca: Buffer;

  constructor(caFile: string) {
    this.ca = readFileSync(caFile);
  }

  /** One request, no redirect followed. Cookies are sent and stored; their paths are ignored on purpose. */
  async send(
    method: string,
    url: string,
    form?: URLSearchParams,
    accept = 'text/html',
  ): Promise<BrowserResponse> {
    const body = form?.toString();
    // The provider answers errors as HTML pages to browsers and as JSON to API clients, by this header.
    const headers: Record<string, string> = { accept };
    if (this.cookies.size > 0)
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    if (body !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const res = await new Promise<BrowserResponse>((resolve, reject) => {
      const req = request(url, { method, headers, ca: this.ca, timeout: 15_000 }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () =>
          resolve({
            status: r.statusCode ?? 0,
            url,
            headers: r.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        r.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
    const setCookie = res.headers['set-cookie'] ?? [];
    this.store(Array.isArray(setCookie) ? setCookie : [setCookie]);
    return res;
  }

  /** Follows redirects on the provider; stops at a redirect that leaves it (the client's redirect URI). */
  async go(method: string, url: string, form?: URLSearchParams): Promise<BrowserResponse> {
    let res = await this.send(method, url, form);
    for (let i = 0; i < maxRedirects; i++) {
      const location = res.headers.location;
      if (res.status < 300 || res.status >= 400 || typeof location !== 'string') return res;
      const next = new URL(location, res.url);
      if (next.origin !== new URL(url).origin)
        return { ...res, headers: { ...res.headers, location: next.href } };
      res = await this.send('GET', next.href);
    }
    throw new Error(`more than ${maxRedirects} redirects from ${url}`);
  }

  async submit(page: BrowserResponse, formId: string | undefined, values: Record<string, string> = {}) {
    const form = readForm(page, formId);
    for (const [k, v] of Object.entries(values)) form.fields.set(k, v);
    return this.go(form.method, form.action, form.fields);
  }

  async json(url: string, form: URLSearchParams): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await this.send('POST', url, form, 'application/json');
    return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
  }

  private store(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k = '', v = ''] = a.split('=');
        return k.trim().toLowerCase() === 'expires' && Date.parse(v) <= Date.now();
      });
      if (!value || expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

const attr = (tag: string, name: string) =>
  new RegExp(`\\s${name}="([^"]*)"`, 'i').exec(tag)?.[1]?.replace(/&amp;/g, '&');

/** The form with id `formId` (or the first form) and the values its inputs carry, as a browser would post. */
export function readForm(page: BrowserResponse, formId?: string): HtmlForm {
  const forms = [...page.body.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)];
  const found = forms.find((m) => formId === undefined || attr(m[1] ?? '', 'id') === formId);
  if (!found) {
    const text = page.body
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 400);
    throw new Error(`no form ${formId ?? ''} on ${page.url} (HTTP ${page.status}): ${text}`);
  }
  const fields = new URLSearchParams();
  for (const input of (found[2] ?? '').matchAll(/<input\b[^>]*>/gi)) {
    const name = attr(input[0], 'name');
    if (name) fields.set(name, attr(input[0], 'value') ?? '');
  }
  return {
    action: new URL(attr(found[1] ?? '', 'action') ?? page.url, page.url).href,
    method: (attr(found[1] ?? '', 'method') ?? 'GET').toUpperCase(),
    fields,
  };
}
