import * as k8s from '@kubernetes/client-node';

/** How one object is deleted: 'deleted', or 'absent' when it was not there (404). */
export type DeleteByPath = (path: string) => Promise<'deleted' | 'absent'>;

/**
 * DELETE of one RBAC binding by its API path, straight on the connection pool client-node's authentication
 * hands out: the generated client goes through fetch (a Request, Headers and a web stream per response) and
 * deserializes the Status the API server answers, which was about half of Elevate's own CPU per expired
 * grant in a burst. Same authentication, same pooled connections; any status but 200/202 (deleted) and 404
 * (absent) throws an ApiException, as client-node's would.
 */
export function createDeleteByPath(
  configuration: k8s.Configuration,
  auth: k8s.SecurityAuthentication,
  rbac: k8s.RbacAuthorizationV1Api,
): DeleteByPath {
  return async (path) => {
    const context = configuration.baseServer.makeRequestContext(path, k8s.HttpMethod.DELETE);
    context.setHeaderParam('Accept', 'application/json');
    await auth.applySecurityAuthentication(context);
    const pool = context.getDispatcher();
    // No dispatcher of its own (a plain-HTTP cluster): nothing pooled to use, so client-node's own way.
    if (!pool) return deleteWithClient(rbac, path);
    const url = new URL(context.getUrl());
    const res = await pool.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: 'DELETE',
      headers: context.getHeaders(),
    });
    const body = await res.body.text();
    if (res.statusCode === 200 || res.statusCode === 202) return 'deleted';
    if (res.statusCode === 404) return 'absent';
    const headers = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)]));
    throw new k8s.ApiException(res.statusCode, `HTTP ${res.statusCode}`, body, headers);
  };
}

/** …/namespaces/NS/rolebindings/NAME or …/clusterrolebindings/NAME, deleted through client-node. */
async function deleteWithClient(
  rbac: k8s.RbacAuthorizationV1Api,
  path: string,
): Promise<'deleted' | 'absent'> {
  const parts = path.split('/').map(decodeURIComponent);
  const name = parts.at(-1) ?? '';
  try {
    if (parts.at(-2) === 'clusterrolebindings') await rbac.deleteClusterRoleBinding({ name });
    else await rbac.deleteNamespacedRoleBinding({ name, namespace: parts.at(-3) ?? '' });
    return 'deleted';
  } catch (e) {
    if (e instanceof k8s.ApiException && e.code === 404) return 'absent';
    throw e;
  }
}
