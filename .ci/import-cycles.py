#!/usr/bin/env python3
"""Count import cycles between the top-level modules of a crate.

Usage: python3 .ci/import-cycles.py resolver/src [-v]

A module's edges are the `crate::NAME` paths in its files (comments and test
files skipped), NAME a top-level module. Prints the strongly connected
components of more than one module and the pairs that import each other."""
import os, re, sys
src = sys.argv[1]
mods = set()
for f in os.listdir(src):
    if f.endswith('.rs') and f not in ('lib.rs', 'main.rs'):
        mods.add(f[:-3])
    elif os.path.isdir(os.path.join(src, f)):
        mods.add(f)
edges = {m: set() for m in mods}
pat = re.compile(r'crate::([a-z_][a-z0-9_]*)')
usegroup = re.compile(r'use crate::\{([^;]*)\};', re.S)
def files(m):
    p = os.path.join(src, m + '.rs')
    if os.path.exists(p): yield p
    d = os.path.join(src, m)
    if os.path.isdir(d):
        for root, _, fs in os.walk(d):
            for f in fs:
                if f.endswith('.rs'): yield os.path.join(root, f)
for m in mods:
    for p in files(m):
        if '/tests' in p or p.endswith('tests.rs') or p.endswith('testutil.rs'): continue
        text = open(p).read()
        # drop #[cfg(test)] mod tests { ... } at file end
        i = text.find('#[cfg(test)]\nmod tests {')
        if i >= 0: text = text[:i]
        text = re.sub(r'//[^\n]*', '', text)
        names = set(pat.findall(text))
        for g in usegroup.findall(text):
            names |= set(re.findall(r'(?:^|[,{\s])([a-z_][a-z0-9_]*)', g))
        for n in names:
            if n in mods and n != m: edges[m].add(n)
# Tarjan
idx = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges[v]:
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        sccs.append(comp)
for v in sorted(mods):
    if v not in idx: sc(v)
big = [sorted(s) for s in sccs if len(s) > 1]
pairs = sorted({tuple(sorted((a, b))) for a in edges for b in edges[a] if a in edges[b]})
print('modules:', len(mods))
print('cyclic components (SCC > 1):', len(big))
for s in big: print('  ', ' '.join(s))
print('mutual pairs:', len(pairs), pairs)
if '-v' in sys.argv:
    for m in sorted(edges): print(m, '->', ' '.join(sorted(edges[m])))
