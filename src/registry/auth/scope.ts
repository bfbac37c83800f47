/**
 * Docker token scopes and the ACL that grants them.
 *
 * A scope names a resource and the actions wanted on it:
 * `repository:library/busybox:pull,push`, `registry:catalog:*`. The resource
 * name may itself contain ':' (a host:port component), so the type is what
 * precedes the first ':' and the actions what follows the last one. A type may
 * carry a class in parentheses (`repository(plugin)`); the class is dropped.
 */
import type { Access } from '../hooks.js';

export function parseScope(s: string): Access | undefined {
  const first = s.indexOf(':');
  const last = s.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  const type = s.slice(0, first).replace(/\(.*\)$/, '');
  const name = s.slice(first + 1, last);
  const actions = s.slice(last + 1).split(',').filter(Boolean);
  if ((type !== 'repository' && type !== 'registry') || !name) return undefined;
  return { type, name, actions: [...new Set(actions)] };
}

/** Every scope in `scope` query values; one value may hold several, space-separated (OAuth2 style). */
export function parseScopes(values: readonly string[]): Access[] {
  const out: Access[] = [];
  for (const v of values) for (const s of v.split(' ')) {
    const a = s && parseScope(s);
    if (a) merge(out, a);
  }
  return out;
}

export const formatScope = (a: Access): string => `${a.type}:${a.name}:${a.actions.join(',')}`;

/** Adds `a` to `list`, folding its actions into an entry for the same resource. */
export function merge(list: Access[], a: Access): void {
  const same = list.find((x) => x.type === a.type && x.name === a.name);
  if (!same) list.push({ ...a, actions: [...a.actions] });
  else for (const act of a.actions) if (!same.actions.includes(act)) same.actions.push(act);
}

/** Whether `granted` (the actions a token or ACL carries) covers `action`; '*' covers everything. */
export const covers = (granted: readonly string[], action: string): boolean =>
  granted.includes('*') || granted.includes(action);

/**
 * One rule of the token issuer's ACL. `account` is a user name, '*' for any
 * authenticated user, or '' for anonymous callers (what anonymous callers may
 * do, so may everyone: logging in never loses rights). `name` is a repository
 * glob where '*' matches any run of characters, '/' included: 'alice/*' covers
 * 'alice/app' and 'alice/team/app'. `registry:catalog:*` is granted by a rule
 * whose name is '*' and whose actions include '*'.
 */
export interface AclEntry {
  account: string;
  name: string;
  actions: string[];
}

/** Used when no ACL is configured: authenticated users may pull and push everything and list the catalog. */
export const DEFAULT_ACL: AclEntry[] = [{ account: '*', name: '*', actions: ['pull', 'push'] }];

const globs = new Map<string, RegExp>();
function glob(pattern: string): RegExp {
  let re = globs.get(pattern);
  if (!re) {
    re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
    globs.set(pattern, re);
  }
  return re;
}

const appliesTo = (e: AclEntry, user: string | undefined): boolean =>
  e.account === '' || (user !== undefined && (e.account === '*' || e.account === user));

/**
 * What `user` (undefined: anonymous) may do of what it asked: for each
 * requested resource, requested ∩ allowed actions. Resources with nothing
 * granted still appear, with no actions, as the spec's example responses do.
 */
export function grant(acl: readonly AclEntry[], user: string | undefined, requested: readonly Access[], isDefault = false): Access[] {
  return requested.map((r) => {
    const allowed = new Set<string>();
    for (const e of acl) {
      if (!appliesTo(e, user)) continue;
      if (r.type === 'registry') {
        if (e.name === '*' && (isDefault || e.actions.includes('*'))) allowed.add('*');
      } else if (glob(e.name).test(r.name)) {
        for (const a of e.actions) allowed.add(a);
      }
    }
    const actions = allowed.has('*') ? [...r.actions] : r.actions.filter((a) => allowed.has(a));
    return { type: r.type, name: r.name, actions };
  });
}

/** Whether any rule lets anonymous callers do something. */
export const allowsAnonymous = (acl: readonly AclEntry[]): boolean => acl.some((e) => e.account === '' && e.actions.length > 0);
