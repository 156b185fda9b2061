import type { PolicySet } from '../domain/policy/types.js';
import type { PolicySource } from './ports.js';

export interface PolicyHolder extends PolicySource {
  /** Puts a new set in force at once; returns the one it replaces. Decisions already made keep theirs. */
  replace(set: PolicySet): PolicySet;
}

/** The policy set in force, swapped whole by a config reload. */
export function createPolicyHolder(initial: PolicySet): PolicyHolder {
  let set = initial;
  return {
    current: () => set,
    replace(next) {
      const previous = set;
      set = next;
      return previous;
    },
  };
}
