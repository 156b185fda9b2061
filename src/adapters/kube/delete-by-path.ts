import * as k8s from '@kubernetes/client-node';

/** How one object is deleted: 'deleted', or 'absent' when it was not there (404). */
export type DeleteByPath = (path: string) => Promise<'deleted' | 'absent'>;

/**
 * DELETE of a collection by its API path and a label selector: the names of the objects the API server
 * deleted (its answer lists them). Throws CollectionDeleteUnsupported where there is no pooled connection
 * to send it on, and an ApiException (403 where the identity may not `deletecollection`) otherwise.
 */
export type DeleteCollection = (collectionPath: string, labelSelector: string) => Promise<Set<string>>;

export class CollectionDeleteUnsupported extends Error {}

/**
 * DELETEs straight on the connection pool client-node's authentication hands out: the generated client
 * goes through fetch (a Request, Headers and a web stream per response) and deserializes the Status the API
 * server answers, which was about half of Elevate's own CPU per expired grant in a burst. Same
 * authentication, same pooled connections; an unexpected status throws an ApiException, as client-node's
 * would.
 */
export function createRawDeletes(
  configuration: k8s.Configuration,
  auth: k8s.SecurityAuthentication,
  rbac: k8s.RbacAuthorizationV1Api,
): { deleteByPath: DeleteByPath; deleteCollection: DeleteCollection } {
  /** The answer, or null when there is no dispatcher of its own (a plain-HTTP cluster): nothing pooled. */
  async function send(pathAndQuery: string): Promise<{ statusCode: number; body: string } | null> {
    const context = configuration.baseServer.makeRequestContext(pathAndQuery, k8s.HttpMethod.DELETE);
    context.setHeaderParam('Accept', 'application/json');
    await auth.applySecurityAuthentication(context);
    const pool = context.getDispatcher();
    if (!pool) return null;
    const url = new URL(context.getUrl());
    const res = await pool.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: 'DELETE',
      headers: context.getHeaders(),
    });
    const body = await res.body.text();
    if (res.statusCode === 200 || res.statusCode === 202 || res.statusCode === 404) {
      return { statusCode: res.statusCode, body };
    }
    const headers = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)]));
    throw new k8s.ApiException(res.statusCode, `HTTP ${res.statusCode}`, body, headers);
  }

  return {
    async deleteByPath(path) {
      const answer = await send(path);
      if (!answer) return deleteWithClient(rbac, path);
      return answer.statusCode === 404 ? 'absent' : 'deleted';
    },
    async deleteCollection(collectionPath, labelSelector) {
      const answer = await send(`${collectionPath}?labelSelector=${encodeURIComponent(labelSelector)}`);
      if (!answer) throw new CollectionDeleteUnsupported('no pooled connection to the cluster');
      // 404: the namespace itself is gone, and every binding in it with it.
      if (answer.statusCode === 404) return new Set();
      const list = JSON.parse(answer.body) as { items?: { metadata?: { name?: string } }[] };
      return new Set((list.items ?? []).flatMap((item) => item.metadata?.name ?? []));
    },
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
