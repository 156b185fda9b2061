import type { z } from 'zod';

/** Flags each item whose name an earlier one already has: `<what> <name> is named twice`, at its name. */
export function checkUniqueNames(
  items: readonly { name: string }[],
  field: string,
  what: string,
  ctx: z.RefinementCtx,
): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.name))
      ctx.addIssue({
        code: 'custom',
        path: [field, i, 'name'],
        message: `${what} ${item.name} is named twice`,
      });
    seen.add(item.name);
  });
}

/** Flags a pair of fields of which only one is given (a user name without its password file). */
export function checkBothOrNeither(
  given: [unknown, unknown],
  names: [string, string],
  path: (string | number)[],
  ctx: z.RefinementCtx,
): void {
  if ((given[0] === undefined) !== (given[1] === undefined))
    ctx.addIssue({ code: 'custom', path, message: `give both ${names[0]} and ${names[1]}, or neither` });
}
