// The front end's layers, enforced: js/src/model (the data) < diagnose (judging it) <
// views (drawing it) < ui (the controls and the page) < the top-level lifecycle files
// (widget.js, session.js, controller.js and the two bundle entries). A module imports only
// from its own layer or the ones below, every import names a file that exists, and no
// chain of imports comes back to where it started.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../../js/src");
const LAYERS = ["model", "diagnose", "views", "ui"]; // bottom to top; top level above all
// `import ... from "x"`, `export ... from "x"` (over several lines too), `import "x"`
const IMPORT = new RegExp(String.raw`^\s*(?:import\s[^;]*?|export\s*(?:\{[^}]*\}|\*[\w\s]*))` +
  String.raw`\sfrom\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']`, "gm");

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith(".js") ? [path] : [];
  });
}

/** The layer of a file under js/src: its folder's rank, or LAYERS.length at the top. */
function rank(file) {
  const parts = relative(SRC, file).split("/");
  return parts.length === 1 ? LAYERS.length : LAYERS.indexOf(parts[0]);
}

function importsOf(file) {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(IMPORT)].map((m) => m[1] || m[2]);
}

const FILES = sources(SRC);
const GRAPH = new Map(FILES.map((f) => [f, importsOf(f).map((s) => resolve(dirname(f), s))]));
const name = (f) => relative(SRC, f);

test("every module sits in a layer folder or at the top, and imports only real files", () => {
  assert.ok(FILES.length > 20);
  for (const [file, deps] of GRAPH) {
    assert.notEqual(rank(file), -1, `${name(file)}: not in ${LAYERS.join("/, ")}/ nor top level`);
    for (const dep of deps) {
      assert.ok(dep.startsWith(SRC + "/") && existsSync(dep),
        `${name(file)} imports ${dep}, which is not a file under js/src`);
    }
  }
});

/** The imports of `graph` (file -> imported files) that point to a higher layer. */
function upward(graph) {
  const out = [];
  for (const [file, deps] of graph) {
    for (const dep of deps) if (rank(dep) > rank(file)) out.push(`${name(file)} -> ${name(dep)}`);
  }
  return out;
}

/** One import cycle of `graph` as a list of files, or null when there is none. */
function cycle(graph) {
  const state = new Map(); // file -> "open" | "done"
  const visit = (file, path) => {
    if (state.get(file) === "done") return null;
    if (state.get(file) === "open") return [...path.slice(path.indexOf(file)), file];
    state.set(file, "open");
    for (const dep of graph.get(file) || []) {
      const found = visit(dep, [...path, file]);
      if (found) return found;
    }
    state.set(file, "done");
    return null;
  };
  for (const file of graph.keys()) {
    const found = visit(file, []);
    if (found) return found;
  }
  return null;
}

test("no module imports from a layer above its own", () => {
  assert.deepEqual(upward(GRAPH), [], `imports against ${LAYERS.join(" < ")} < top level`);
});

test("the imports have no cycle", () => {
  const found = cycle(GRAPH);
  assert.equal(found, null, found && `import cycle: ${found.map(name).join(" -> ")}`);
});

test("the checks catch an upward import, a cycle, and every import form", () => {
  const at = (...p) => join(SRC, ...p);
  const bad = new Map([[at("model", "a.js"), [at("ui", "b.js")]], [at("ui", "b.js"), []]]);
  assert.deepEqual(upward(bad), ["model/a.js -> ui/b.js"]);
  const loop = new Map([[at("views", "a.js"), [at("views", "b.js")]],
    [at("views", "b.js"), [at("views", "a.js")]]]);
  assert.deepEqual(cycle(loop).map(name), ["views/a.js", "views/b.js", "views/a.js"]);
  const text = 'import { a } from "../ui/x.js";\nexport { b } from "./y.js";\nimport "./z.js";\n' +
    'import {\n  c,\n  d,\n} from "../views/w.js";\nexport * as e from "./v.js";\n' +
    'export function f() {\n  return `from "./not-an-import.js"`;\n}';
  assert.deepEqual([...text.matchAll(IMPORT)].map((m) => m[1] || m[2]),
    ["../ui/x.js", "./y.js", "./z.js", "../views/w.js", "./v.js"]);
});
