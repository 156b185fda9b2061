import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import { consentPage, loginPage, page } from './idp-pages.js';
import { findIdpUser } from './idp-users.js';

const route = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/;

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function html(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

/**
 * The login and consent pages oidc-provider sends people to. Returns false for any other path, which the
 * provider itself serves. Passwords are checked against the test users; a wrong one shows the form again.
 */
export async function handleInteraction(
  provider: Provider,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const match = route.exec(new URL(req.url ?? '/', 'http://x').pathname);
  if (!match) return false;
  const [, uid = '', action] = match;
  try {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error('this sign-in belongs to another browser session');
    const clientId = String(details.params.client_id);
    if (req.method === 'GET' && !action) {
      if (details.prompt.name === 'login') html(res, 200, loginPage(uid, clientId, {}));
      else {
        const missing = (details.prompt.details.missingOIDCScope as string[] | undefined) ?? [];
        html(res, 200, consentPage(uid, clientId, details.session?.accountId ?? '', missing));
      }
      return true;
    }
    if (req.method !== 'POST' || !action) {
      html(res, 405, page('Not allowed', '<p>Use the form.</p>'));
      return true;
    }
    if (action === 'login') {
      const form = await formBody(req);
      const login = form.get('login') ?? '';
      const user = findIdpUser(login);
      if (!user || user.password !== form.get('password')) {
        html(res, 401, loginPage(uid, clientId, { login, error: 'Wrong user name or password.' }));
        return true;
      }
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: user.name } },
        { mergeWithLastSubmission: false },
      );
      return true;
    }
    if (action === 'abort') {
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'the user denied access' },
        { mergeWithLastSubmission: false },
      );
      return true;
    }
    await confirm(provider, req, res, details);
    return true;
  } catch (err) {
    html(
      res,
      400,
      page('Sign-in failed', `<p class="error">${String((err as Error).message).replace(/[<>&]/g, '')}</p>`),
    );
    return true;
  }
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

async function confirm(provider: Provider, req: IncomingMessage, res: ServerResponse, details: Details) {
  const accountId = details.session?.accountId;
  if (!accountId) throw new Error('not signed in');
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
  if (!grant) throw new Error('the grant of this sign-in has expired');
  const missing = details.prompt.details;
  if (Array.isArray(missing.missingOIDCScope)) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (Array.isArray(missing.missingOIDCClaims)) grant.addOIDCClaims(missing.missingOIDCClaims as string[]);
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { consent: details.grantId ? {} : { grantId } },
    { mergeWithLastSubmission: true },
  );
}
