import type { FastifyInstance } from 'fastify';

const charsetOf = (contentType: string | undefined): string | null =>
  /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '')?.[1]?.toLowerCase() ?? null;

/**
 * Bodies are JSON in UTF-8 and nothing else: Fastify would also take text/plain, and read any declared
 * charset (utf-16, latin1) as UTF-8. An empty JSON body counts as no body, so operations whose body is
 * optional accept a bare POST whatever the client puts in Content-Type.
 */
export function acceptOnlyUtf8Json(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const charset = charsetOf(req.headers['content-type']);
    if (charset !== null && charset !== 'utf-8' && charset !== 'utf8') {
      done(Object.assign(new Error('the body must be JSON in UTF-8'), { statusCode: 415 }), undefined);
      return;
    }
    if (body === '') {
      done(null, undefined);
      return;
    }
    parseJson(req, body as string, done);
  });
}
