import type { RouteConfig } from '../config/types.js';
import { normaliseHost } from '../http/request-target.js';
import type { Origin } from '../exchange/origin.js';
import type { Route } from '../exchange/route.js';

/**
 * Routes in configuration order; the first that matches wins. The prefixes
 * are kept in a radix tree, so that a match walks at most the path's length
 * whatever the number of routes: every route whose prefix the path starts
 * with lies on that one walk, and the lowest configuration index among those
 * whose host fits is the first match.
 */
export class RouteTable {
  readonly #routes: readonly Route[];
  readonly #root = new PrefixNode('');

  constructor(routes: readonly RouteConfig[], origins: ReadonlyMap<string, Origin>) {
    this.#routes = routes.map((r) => {
      const origin = origins.get(r.origin);
      if (!origin) throw new Error(`route names unknown origin "${r.origin}"; the config loader should have refused it`);
      const host = r.match.host === null ? null : normaliseHost(r.match.host);
      const volume = r.volume ?? soleLocalPath(origin);
      return { pathPrefix: r.match.pathPrefix, host, origin, volume, volumes: r.volumes ?? (volume === null ? [] : [{ volume, share: 1 }]) };
    });
    this.#routes.forEach((route, index) => insert(this.#root, route.pathPrefix, route.host, index));
  }

  /** Both normalised: the host by normaliseHost, the path by normalisePath. */
  match(host: string, path: string): Route | null {
    let best = Infinity;
    let node: PrefixNode | undefined = this.#root;
    let depth = 0;
    // Below a node no route comes before `best`: nothing deeper can win.
    while (node.first < best) {
      if (node.anyHost < best) best = node.anyHost;
      const ofHost = node.byHost?.get(host);
      if (ofHost !== undefined && ofHost < best) best = ofHost;
      if (depth === path.length || node.children === null) break;
      node = node.children.get(path.charCodeAt(depth));
      if (node === undefined || !path.startsWith(node.label, depth)) break;
      depth += node.label.length;
    }
    return best === Infinity ? null : this.#routes[best]!;
  }
}

/** A node of the radix tree: the prefix it stands for is its ancestors' labels and its own. */
class PrefixNode {
  /** By the first character of their labels. */
  children: Map<number, PrefixNode> | null = null;
  /** The first route (configuration index) with exactly this prefix and no host; Infinity: none. */
  anyHost = Infinity;
  /** The first route with exactly this prefix, by host. */
  byHost: Map<string, number> | null = null;
  /** The first route with this prefix or a longer one below it, whatever its host. */
  first = Infinity;

  constructor(public label: string) {}
}

/** Adds route `index`; routes are added in configuration order, so the first one kept at a node is the one that wins. */
function insert(root: PrefixNode, prefix: string, host: string | null, index: number): void {
  let node = root;
  let depth = 0;
  for (;;) {
    if (node.first === Infinity) node.first = index;
    if (depth === prefix.length) break;
    const c = prefix.charCodeAt(depth);
    node.children ??= new Map();
    const child = node.children.get(c);
    if (child === undefined) {
      const leaf = new PrefixNode(prefix.slice(depth));
      node.children.set(c, leaf);
      node = leaf;
      depth = prefix.length;
      continue;
    }
    let common = 1;
    while (common < child.label.length && depth + common < prefix.length && child.label.charCodeAt(common) === prefix.charCodeAt(depth + common)) common++;
    if (common < child.label.length) {
      // The new prefix ends or parts inside the child's label: a node where it does.
      const split = new PrefixNode(child.label.slice(0, common));
      split.first = child.first;
      child.label = child.label.slice(common);
      split.children = new Map([[child.label.charCodeAt(0), child]]);
      node.children.set(c, split);
    }
    node = node.children.get(c)!;
    depth += common;
  }
  if (host === null) {
    if (node.anyHost === Infinity) node.anyHost = index;
  } else {
    node.byHost ??= new Map();
    if (!node.byHost.has(host)) node.byHost.set(host, index);
  }
}

function soleLocalPath(origin: Origin): string | null {
  const paths = origin.config.headroom.local?.paths;
  return paths?.length === 1 ? paths[0]! : null;
}
