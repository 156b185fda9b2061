import { basicCredentials, sendJson, startSaasServer } from './saas-server.js';

export interface JiraIssue {
  key: string;
  summary?: string;
  /** The status's name and its category key: new (To Do), indeterminate (In Progress) or done. */
  status: string;
  category: 'new' | 'indeterminate' | 'done';
  assigneeEmail?: string | null;
}

const categoryNames = { new: 'To Do', indeterminate: 'In Progress', done: 'Done' } as const;

/**
 * Jira Cloud's REST API v3 as documented for GET /rest/api/3/issue/{key}: basic auth with an account's
 * e-mail and API token (401 otherwise), the issue JSON with fields.status.statusCategory and
 * fields.assignee, and 404 with the errorMessages envelope for an issue that does not exist.
 */
export async function startJira(credentials: { email: string; apiToken: string }) {
  const issues = new Map<string, JiraIssue>();
  const controls = await startSaasServer((req, res) => {
    const basic = basicCredentials(req.headers.authorization);
    if (!basic || basic[0] !== credentials.email || basic[1] !== credentials.apiToken) {
      res
        .writeHead(401, { 'content-type': 'text/plain' })
        .end('Client must be authenticated to access this resource.');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const key = /^\/rest\/api\/3\/issue\/([^/]+)$/.exec(url.pathname)?.[1];
    const issue = key ? issues.get(decodeURIComponent(key).toUpperCase()) : undefined;
    if (req.method !== 'GET' || !issue) {
      return sendJson(res, 404, {
        errorMessages: ['Issue does not exist or you do not have permission to see it.'],
        errors: {},
      });
    }
    const id = String(10000 + [...issues.keys()].indexOf(issue.key));
    sendJson(res, 200, {
      expand: 'renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations',
      id,
      self: `${controls.url}/rest/api/3/issue/${id}`,
      key: issue.key,
      fields: {
        summary: issue.summary ?? 'incident',
        status: {
          self: `${controls.url}/rest/api/3/status/1`,
          name: issue.status,
          id: '1',
          statusCategory: {
            id: 2,
            key: issue.category,
            colorName: 'blue-gray',
            name: categoryNames[issue.category],
          },
        },
        assignee: issue.assigneeEmail
          ? {
              accountId: `acc-${issue.assigneeEmail}`,
              emailAddress: issue.assigneeEmail,
              displayName: issue.assigneeEmail.split('@')[0],
              active: true,
            }
          : null,
      },
    });
  });
  return {
    ...controls,
    set(issue: JiraIssue): void {
      issues.set(issue.key.toUpperCase(), issue);
    },
  };
}

export type JiraStandIn = Awaited<ReturnType<typeof startJira>>;
