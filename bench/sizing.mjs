// Sizing (docs/operations.md "Sizing"): bytes per audit line, typical and worst case, the gzip
// ratio logrotate's `compress` (gzip -6) gets on a day of lines, and what that means on disk.
// A day here is 1,000,000 exits (the unit the docs quote): realistic Tencent-shaped values, with
// 1 to 3 members per callback, EventTime present, IPv4 and IPv6 clients. `npm run bench:sizing`.
import { gzipSync } from 'node:zlib';
import { formatLines } from '../dist/audit/line.js';

const LINES = Number(process.env.SIZING_LINES ?? 1_000_000);
const platforms = ['Android', 'iOS', 'Web', 'RESTAPI', 'Windows', 'macOS'];
const types = ['Public', 'Work', 'Meeting', 'AVChatRoom', 'Community'];
const parts = [];
let lines = 0;
for (let n = 0; lines < LINES; n++) {
  const members = Array.from({ length: (n % 3) + 1 }, (_, k) => `user_${((n * 7919 + k * 104729) % 3_000_000).toString().padStart(7, '0')}`);
  const kicked = n % 4 === 0;
  const out = formatLines(
    {
      sdkAppId: '1400000000',
      groupId: `@TGS#${((n * 31) % 900_000).toString(36).toUpperCase().padStart(9, 'A')}`,
      groupType: types[n % types.length],
      exitType: kicked ? 'Kicked' : 'Quit',
      operator: kicked ? 'admin_01' : members[0],
      eventTime: 1764115200000 + n * 86,
      receivedAt: 1764115200040 + n * 86,
      clientIp: n % 5 ? `${(n * 13) % 223 + 1}.${n % 256}.${(n >> 8) % 256}.${(n >> 16) % 256}` : `240e:3b7:${(n % 65535).toString(16)}::${(n % 4093).toString(16)}`,
      optPlatform: platforms[n % platforms.length],
    },
    members,
  );
  parts.push(out.text);
  lines += out.count;
}
const text = parts.join('');
const bytes = Buffer.byteLength(text);
const gz = gzipSync(text, { level: 6 }).length;

// The longest line the default limits allow: every string at its limit in bytes (groupId 128,
// accounts 64, Type and OptPlatform 32, ClientIP 64), each byte a control character that JSON
// escapes to 6 bytes (U+0001).
const c = (n) => '\u0001'.repeat(n);
const worst = formatLines(
  { sdkAppId: '1'.repeat(20), groupId: c(128), groupType: c(32), exitType: 'Destroyed', operator: c(64), eventTime: 253402300799999, receivedAt: Date.now(), clientIp: c(64), optPlatform: c(32) },
  [c(64)],
).text;

const mib = (b) => (b / 1024 / 1024).toFixed(1);
const perMillion = (bytes / lines) * 1e6;
const perMillionGz = (gz / lines) * 1e6;
const result = {
  lines,
  typicalBytesPerLine: Math.round(bytes / lines),
  worstBytesPerLine: Buffer.byteLength(worst),
  gzipRatio: Number((bytes / gz).toFixed(1)),
  perMillionExitsMiB: Number(mib(perMillion)),
  perMillionExitsGzipMiB: Number(mib(perMillionGz)),
};
// The shipped logrotate config (daily, maxsize 100M checked hourly, rotate 90) at EXITS_PER_DAY:
// a file is rotated daily or once it passes 100 MiB, so a busy day makes several files, and
// `rotate 90` keeps 90 files, not 90 days.
const perDay = Number(process.env.EXITS_PER_DAY ?? 1_000_000);
const dayBytes = (bytes / lines) * perDay;
const hourBytes = dayBytes / 24;
// Checked hourly: a file is rotated at the first check past 100 MiB, so it holds up to an hour more.
const fileBytes = dayBytes <= 100 * 2 ** 20 ? dayBytes : Math.ceil((100 * 2 ** 20) / hourBytes) * hourBytes;
const filesPerDay = dayBytes / fileBytes;
result.exitsPerDay = perDay;
result.rotatedFileMiB = Number(mib(fileBytes));
result.rotatedFilesPerDay = Number(filesPerDay.toFixed(1));
result.rotate90HoldsDays = Number((90 / filesPerDay).toFixed(0));
// On disk at most: the current file and .1 plain, .2.gz ... .90.gz.
result.rotate90DiskGiB = Number(((2 * fileBytes + 89 * fileBytes * (gz / bytes)) / 1024 ** 3).toFixed(2));
console.log(JSON.stringify(result, null, 2));
