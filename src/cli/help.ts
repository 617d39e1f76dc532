/** A schema node as the help reads it: a leaf has a default, and may have a doc. */
type Node = { readonly [key: string]: unknown };

const isLeaf = (node: Node): boolean => 'default' in node;

/**
 * One line per config key a command takes as `--key value`: the flag, what
 * it does and its default, from the schema the values are validated by.
 */
export function optionLines(schema: Node, path: string[] = []): string[] {
  return Object.entries(schema).flatMap(([key, child]) => {
    const node = child as Node;
    const here = [...path, key];
    if (!isLeaf(node)) return optionLines(node, here);
    const doc = typeof node.doc === 'string' ? node.doc : '';
    const fallback = node.sensitive ? '' : ` (default: ${JSON.stringify(node.default)})`;
    return [`  --${here.join('.')}`.padEnd(34) + ` ${doc}${fallback}`];
  });
}
