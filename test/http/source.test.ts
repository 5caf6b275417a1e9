import t from 'tap';
import { cidrList, normalizeIp } from '../../src/cidr.js';
import { clientAddress } from '../../src/http/source.js';

t.test('CIDR lists, IPv4 and IPv6', async (t) => {
  const allow = cidrList(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::1']);
  t.ok(allow('10.1.2.3'));
  t.ok(allow('::ffff:10.1.2.3'), 'IPv4-mapped IPv6 from a dual-stack socket');
  t.ok(allow('192.168.1.7'));
  t.notOk(allow('192.168.1.8'));
  t.ok(allow('2001:db8:1::5'));
  t.ok(allow('::1'));
  t.notOk(allow('2001:db9::1'));
  t.notOk(allow('not-an-ip'));
  t.notOk(cidrList([])('127.0.0.1'), 'an empty list matches nothing');
});

t.test('bad entries are refused by name', async (t) => {
  for (const bad of ['10.0.0.0/33', '10.0.0/8', 'fe80::/129', 'host.example', '1.2.3.4/8/1', '1.2.3.4/x', '']) {
    t.throws(() => cidrList([bad]), new RegExp(bad.replace(/[.*/]/g, '\\$&')), bad);
  }
});

t.test('X-Forwarded-For only from a trusted proxy, rightmost untrusted hop', async (t) => {
  const trusted = cidrList(['127.0.0.1', '10.0.0.0/8']);
  t.equal(clientAddress('203.0.113.9', '1.1.1.1', trusted), '203.0.113.9', 'untrusted peer: header ignored');
  t.equal(clientAddress('127.0.0.1', '1.1.1.1', trusted), '1.1.1.1');
  t.equal(clientAddress('127.0.0.1', 'spoofed, 198.51.100.4, 10.0.0.2', trusted), '198.51.100.4', 'left-hand (client-written) entries are not believed');
  t.equal(clientAddress('::ffff:127.0.0.1', undefined, trusted), '127.0.0.1');
  t.equal(normalizeIp('::ffff:abcd'), '::ffff:abcd');
});
