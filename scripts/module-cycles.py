#!/usr/bin/env python3
"""Count import cycles between the modules of a Rust crate.

Usage: scripts/module-cycles.py CRATE_ROOT.rs [CRATE_ROOT.rs ...]
       (e.g. blocklist-tools/src/lib.rs resolver/src/lib.rs)

A module is a file (`lib.rs`, `foo.rs`, `foo/mod.rs`); inline modules count as
part of their file. Module A depends on module B when A's code names a path
into B: `use crate::b::X`, `super::X`, `b::f()` for a child or an imported
module, `crate::X` where the crate root re-exports X from B (re-exports are
followed to the module that defines the item). Declaring a child (`mod b;`)
is not a dependency. Test code is left out: items under `#[cfg(test)]`, and
files declared by a `#[cfg(test)] mod`.

A cycle is a strongly connected group of two or more modules; each group is
printed with the lines that make its edges. Exit status: 0 when no crate has
a cycle, 1 otherwise.
"""

import re
import sys
from pathlib import Path

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_code(text):
    """Blank out comments, string and char literals; keep line breaks."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    out.append("\n" if text[i] == "\n" else "")
                    i += 1
            continue
        m = re.match(r'b?r(#*)"', text[i:])
        if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
            continue
        if c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            if m:
                out.append("' '")
                i += len(m.group(0))
                continue
        out.append(c)
        i += 1
    return "".join(out)


def skip_item(text, i):
    """Index just past the item starting at `i` (ends at `;` or its `{}` block)."""
    depth = 0
    while i < len(text):
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        elif c == ";" and depth == 0:
            return i + 1
        i += 1
    return i


def drop_test_items(text):
    """Remove items marked `#[cfg(test)]`; return the text and the test modules."""
    test_mods = set()
    while True:
        m = re.search(r"#\[cfg\(test\)\]", text)
        if not m:
            return text, test_mods
        start = m.start()
        i = m.end()
        while True:  # further attributes
            a = re.match(r"\s*#\[[^\]]*\]", text[i:])
            if not a:
                break
            i += a.end()
        d = re.match(rf"\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+({IDENT})\s*;", text[i:])
        if d:
            test_mods.add(d.group(1))
        end = skip_item(text, i)
        text = text[:start] + "\n" * text.count("\n", start, end) + text[end:]


def expand_use(tree):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]; keeps `as` aliases."""
    tree = re.sub(r"\s+", " ", tree).strip()
    brace = tree.find("{")
    if brace < 0:
        return [tree]
    prefix = tree[:brace]
    inner = tree[brace + 1 : tree.rfind("}")]
    parts, depth, cur = [], 0, ""
    for c in inner:
        if c == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += c == "{"
        depth -= c == "}"
        cur += c
    parts.append(cur)
    result = []
    for p in parts:
        if p.strip():
            result += [prefix + x for x in expand_use(p.strip())]
    return result


class Module:
    def __init__(self, path, file, parent):
        self.path = path  # tuple of names, () for the crate root
        self.file = file
        self.parent = parent
        self.children = {}
        self.text = ""
        self.reexports = {}  # name -> (segments, line)
        self.globs = []
        self.aliases = {}  # local name -> segments

    @property
    def name(self):
        return "crate" + "".join("::" + p for p in self.path)


def load(root_file):
    modules = {}

    def visit(path, file, parent):
        mod = Module(path, file, parent)
        modules[path] = mod
        text, test_mods = drop_test_items(strip_code(file.read_text()))
        mod.text = text
        base = file.parent if file.name in ("lib.rs", "main.rs", "mod.rs") else file.with_suffix("")
        for m in re.finditer(rf"\bmod\s+({IDENT})\s*;", text):
            name = m.group(1)
            if name in test_mods:
                continue
            for cand in (base / f"{name}.rs", base / name / "mod.rs"):
                if cand.exists():
                    mod.children[name] = visit(path + (name,), cand, mod)
                    break
        return mod

    visit((), Path(root_file), None)
    return modules


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def uses(mod):
    """(segments, line, visibility) of every path in a `use` item of `mod`."""
    for m in re.finditer(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", mod.text):
        for path in expand_use(m.group(2)):
            yield path, line_of(mod.text, m.start()), bool(m.group(1))


def split(path):
    alias = None
    if " as " in path:
        path, alias = [x.strip() for x in path.split(" as ")]
    segs = [s.strip() for s in path.split("::") if s.strip()]
    return segs, alias


def walk(modules, mod, segs, hops=0):
    """Resolve `segs` from `mod`: (module reached, remaining segments) or None."""
    if not segs or hops > 16:
        return None
    first, rest = segs[0], segs[1:]
    if first == "crate":
        cur = modules[()]
    elif first == "self":
        cur = mod
    elif first == "super":
        cur = mod.parent
        while cur is not None and rest and rest[0] == "super":
            cur, rest = cur.parent, rest[1:]
        if cur is None:
            return None
    elif first in mod.children:
        cur = mod.children[first]
    elif first in mod.aliases:
        return walk(modules, mod, mod.aliases[first] + rest, hops + 1)
    else:
        return None
    while rest and rest[0] in cur.children:
        cur = cur.children[rest[0]]
        rest = rest[1:]
    return cur, rest


def owner(modules, mod, segs, depth=0):
    """The module that defines what `segs` names, following re-exports."""
    found = walk(modules, mod, segs)
    if found is None:
        return None
    cur, rest = found
    if rest and depth < 16:
        name = rest[0]
        if name in cur.reexports:
            target = owner(modules, cur, cur.reexports[name], depth + 1)
            if target is not None:
                return target
    return cur


def graph(modules):
    # Pass 1: aliases and re-exports.
    for mod in modules.values():
        for path, _, public in uses(mod):
            segs, alias = split(path)
            if not segs:
                continue
            if segs[-1] == "self":
                segs = segs[:-1]
            if segs[-1] == "*":
                if public:
                    mod.globs.append(segs[:-1])
                continue
            local = alias or segs[-1]
            if local != "_":
                mod.aliases.setdefault(local, segs)
            if public:
                mod.reexports[local] = segs
    for mod in modules.values():  # glob re-exports: every name the target re-exports or declares
        for segs in mod.globs:
            found = walk(modules, mod, segs)
            if found and not found[1]:
                for name in found[0].children:
                    mod.reexports.setdefault(name, segs + [name])
    # Pass 2: edges.
    edges = {}
    for mod in modules.values():
        refs = []
        for path, line, _ in uses(mod):
            segs, _ = split(path)
            if segs and segs[-1] in ("self", "*"):
                segs = segs[:-1]
            refs.append((segs, line))
        code = re.sub(r"\b(?:pub(?:\([^)]*\))?\s+)?use\s+[^;]+;", lambda m: "\n" * m.group(0).count("\n"), mod.text)
        for m in re.finditer(rf"\b({IDENT}(?:::{IDENT})+)", code):
            refs.append((m.group(1).split("::"), line_of(code, m.start())))
        for segs, line in refs:
            target = owner(modules, mod, segs)
            if target is not None and target is not mod:
                edges.setdefault((mod.path, target.path), line)
    return edges


def cycles(modules, edges):
    """Strongly connected groups of two or more modules (Tarjan)."""
    succ = {p: [] for p in modules}
    for a, b in edges:
        succ[a].append(b)
    index, low, stack, on, groups = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in succ[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(modules):
        if v not in index:
            strong(v)
    return groups


def main(args):
    if not args:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    status = 0
    for root in args:
        if not Path(root).is_file():
            print(f"{root}: no such file", file=sys.stderr)
            return 2
        modules = load(root)
        edges = graph(modules)
        groups = cycles(modules, edges)
        print(f"{root}: {len(modules)} modules, {len(edges)} dependencies, {len(groups)} cycles")
        for group in groups:
            members = set(group)
            print("  cycle: " + ", ".join(modules[p].name for p in group))
            for (a, b), line in sorted(edges.items()):
                if a in members and b in members:
                    print(f"    {modules[a].name} -> {modules[b].name}  ({modules[a].file}:{line})")
        status |= bool(groups)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
