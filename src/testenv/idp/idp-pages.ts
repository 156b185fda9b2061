// The provider's pages, plain HTML with no outside resources: the testenv runs offline, and the forms are
// what a person (or the sign-in helpers, which read them like a browser) fills in.

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;max-width:24rem;margin:3rem auto}input,button{display:block;width:100%;margin:.4rem 0;padding:.5rem;box-sizing:border-box}.error{color:#b00020}</style>
</head><body><h1>${esc(title)}</h1>
${body}
</body></html>`;
}

export function loginPage(uid: string, clientId: string, opts: { login?: string; error?: string }): string {
  return page(
    'Sign in to the Elevate testenv',
    `<p>${esc(clientId)} asks who you are.</p>
${opts.error ? `<p class="error">${esc(opts.error)}</p>` : ''}
<form id="login" method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
<label>User name or email<input name="login" value="${esc(opts.login ?? '')}" required autofocus></label>
<label>Password<input type="password" name="password" required></label>
<button type="submit">Sign in</button>
</form>`,
  );
}

export function consentPage(uid: string, clientId: string, user: string, scopes: string[]): string {
  return page(
    'Allow access',
    `<p>Signed in as <strong>${esc(user)}</strong>. ${esc(clientId)} asks for: ${scopes.map(esc).join(', ') || 'nothing new'}.</p>
<form id="consent" method="post" action="/interaction/${esc(uid)}/confirm"><button type="submit">Allow</button></form>
<form id="abort" method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Deny</button></form>`,
  );
}

export function userCodeInputPage(form: string, error?: string): string {
  return page(
    'Connect a device',
    `<p${error ? ' class="error"' : ''}>${esc(error ?? 'Enter the code your device shows.')}</p>
${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`,
  );
}

export function userCodeConfirmPage(form: string, clientId: string, userCode: string): string {
  return page(
    'Confirm the device',
    `<p>${esc(clientId)} shows the code <code>${esc(userCode)}</code>. Continue only if your device shows the same.</p>
${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`,
  );
}

export const deviceSuccessPage = () =>
  page('Signed in', '<p id="device-success">Your device is signed in; you may close this page.</p>');
