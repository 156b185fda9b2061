import type { IntegrationConfig } from '../config/integration-config.js';
import { Forbidden } from '../domain/errors.js';
import type { Identity, IdentitySource } from '../domain/identity.js';
import type { PeopleDirectory } from './people-directory.js';

/** Who a request made on someone's behalf is for, and through which integration. */
export interface ActingFor {
  /** The person, as policies judge them: their groups and sign-in source as last seen. */
  person: Identity;
  integration: string;
  requestedBy: string;
}

export interface OnBehalfDeps {
  integrations: IntegrationConfig[];
  people: PeopleDirectory;
  /** How a person never seen signing in is named in bindings: as an OIDC user when OIDC is configured. */
  defaultSource: IdentitySource;
}

/**
 * Requests made by a ticket system or chat bot for a person (integrations[]): only an integration may, only
 * for the people its mayRequestFor names (by user, or by the groups they last signed in with), and the
 * request is judged as the person's own, with `via` naming the integration for policies to match.
 */
export function createOnBehalf(deps: OnBehalfDeps) {
  const integrationOf = (user: string) => deps.integrations.find((i) => i.users.includes(user)) ?? null;

  return {
    isIntegration: (user: string) => integrationOf(user) !== null,
    integrationOf,

    async actFor(who: Identity, user: string, field: string): Promise<ActingFor> {
      const integration = integrationOf(who.user);
      if (!integration) {
        throw new Forbidden(
          `${who.user} may not ask on someone else's behalf: only integrations (integrations[]) may`,
          field,
        );
      }
      const { users, groups } = integration.mayRequestFor;
      const known = await deps.people.lookup(user);
      const byUser = users.includes(user);
      if (!byUser && groups.length > 0 && known === null) {
        throw new Forbidden(
          `${user} has never signed in to Elevate, so their groups are unknown: integration ${integration.name} may ask for ` +
            `${describe(integration)} (mayRequestFor)`,
          field,
        );
      }
      if (!byUser && !known?.groups.some((g) => groups.includes(g))) {
        throw new Forbidden(
          `integration ${integration.name} may not ask for ${user}: it may ask for ${describe(integration)}`,
          field,
        );
      }
      return {
        person: { user, groups: known?.groups ?? [], source: known?.source ?? deps.defaultSource },
        integration: integration.name,
        requestedBy: who.user,
      };
    },
  };
}

function describe(i: IntegrationConfig): string {
  const parts = [
    ...(i.mayRequestFor.users.length ? [`users ${i.mayRequestFor.users.join(', ')}`] : []),
    ...(i.mayRequestFor.groups.length ? [`members of ${i.mayRequestFor.groups.join(', ')}`] : []),
  ];
  return parts.join(' or ');
}

export type OnBehalf = ReturnType<typeof createOnBehalf>;
