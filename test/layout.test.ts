import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';

const SRC = path.resolve(import.meta.dirname, '../src');

/** Every `src/` file's imports of other `src/` folders, as folder → folders. */
function folderImports(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  const folderOf = (file: string): string => {
    const parts = path.relative(SRC, file).split(path.sep);
    return parts.length > 1 ? parts[0]! : `${parts[0]}`;
  };
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (file.endsWith('.ts')) {
        const from = folderOf(file);
        if (!graph.has(from)) graph.set(from, new Set());
        for (const [, spec] of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
          const to = folderOf(path.resolve(path.dirname(file), spec!));
          if (to !== from) graph.get(from)!.add(to);
        }
      }
    }
  };
  walk(SRC);
  return graph;
}

t.test('src/ folders import one another without a cycle: the way is layered, gateway/ wires it', async (t) => {
  const graph = folderImports();
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (folder: string, stack: string[]): void => {
    if (state.get(folder) === 'done') return;
    if (state.get(folder) === 'open') return void cycles.push([...stack, folder].join(' → '));
    state.set(folder, 'open');
    for (const next of graph.get(folder) ?? []) visit(next, [...stack, folder]);
    state.set(folder, 'done');
  };
  for (const folder of graph.keys()) visit(folder, []);
  t.same(cycles, [], 'no folder imports, directly or not, a folder that imports it');
  // cluster/ wires gateways into a group of processes (a primary and its workers), as cli/ wires one;
  // index.ts is the package's entry point, re-exporting what is public.
  const wiring = new Set(['cli', 'cluster', 'index.ts']);
  const intoGateway = [...graph].filter(([from, to]) => to.has('gateway') && !wiring.has(from)).map(([from]) => from);
  t.same(intoGateway, [], 'only the wiring (cli/, cluster/, the entry point) imports gateway/: nothing below it reaches up into it');
  t.notOk(graph.get('exchange')?.has('admission'), 'the exchange’s types do not depend on the constraints that use them');
});

t.test('plugins/ are built on the public API only: from src/ they import nothing but the entry point', async (t) => {
  const PLUGINS = path.resolve(import.meta.dirname, '../plugins');
  const entry = path.join(SRC, 'index.ts');
  const outside: string[] = [];
  let files = 0;
  const walk = (dir: string): void => {
    for (const item of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, item.name);
      if (item.isDirectory()) walk(file);
      else if (file.endsWith('.ts')) {
        files++;
        for (const [, spec] of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
          const target = path.resolve(path.dirname(file), spec!).replace(/\.js$/, '.ts');
          const inSrc = !path.relative(SRC, target).startsWith('..');
          const inPlugins = !path.relative(PLUGINS, target).startsWith('..');
          if ((inSrc && target !== entry) || (!inSrc && !inPlugins)) outside.push(`${path.relative(PLUGINS, file)} → ${spec}`);
        }
      }
    }
  };
  walk(PLUGINS);
  t.ok(files > 0, 'plugins/ has the first-party plugins');
  t.same(outside, [], 'no import reaches past src/index.ts');
});
