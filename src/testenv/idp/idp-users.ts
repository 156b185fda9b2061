export interface IdpUser {
  name: string;
  email: string;
  password: string;
  groups: string[];
}

const user = (name: string, groups: string[]): IdpUser => ({
  name,
  email: `${name}@example.com`,
  password: `${name}-password`,
  groups,
});

/** The people of the testenv's identity provider; tests and the demo name them by `name`. */
export const idpUsers: readonly IdpUser[] = [
  user('alice', ['devs']),
  user('bob', ['sre-leads']),
  user('carol', ['devs']),
  user('dave', ['sre-leads']),
  user('admin', ['platform-admins']),
];

/** By short name (alice) or email (alice@example.com), as a person would type it into the login form. */
export function findIdpUser(login: string): IdpUser | undefined {
  const wanted = login.trim().toLowerCase();
  return idpUsers.find((u) => u.name === wanted || u.email === wanted);
}
