import t from 'tap';
import { MemoryLedger } from '../src/ledger/memory-ledger.js';

t.test('reservations add up per volume and release exactly once', async (t) => {
  const ledger = new MemoryLedger();
  const a = ledger.reserve('v1', 100);
  const b = ledger.reserve('v1', 50);
  const c = ledger.reserve('v2', 7);
  t.equal(ledger.reservedBytes('v1'), 150);
  t.equal(ledger.totalReservedBytes(), 157);
  a.grow(25);
  t.equal(a.bytes, 125);
  t.equal(ledger.reservedBytes('v1'), 175);
  a.release();
  a.release();
  t.equal(ledger.reservedBytes('v1'), 50, 'a second release gives back nothing');
  a.grow(10);
  t.equal(ledger.reservedBytes('v1'), 50, 'a released reservation holds nothing more');
  b.release();
  c.release();
  t.equal(ledger.totalReservedBytes(), 0);
  t.equal(ledger.reservedBytes('v1'), 0);
});
