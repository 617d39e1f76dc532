import t from 'tap';
import { MemoryLedger } from '../src/ledger/memory-ledger.js';

t.test('reservations add up per volume and release exactly once', async (t) => {
  const ledger = new MemoryLedger();
  const a = ledger.reserve('v1', 100);
  const b = ledger.reserve('v1', 50);
  const c = ledger.reserve('v2', 7);
  t.equal(ledger.reservedBytes('v1'), 150);
  t.equal(ledger.totalReservedBytes(), 157);
  a.consume(30);
  t.equal(a.bytes, 70);
  t.equal(ledger.reservedBytes('v1'), 120, 'consumed bytes are no longer reserved');
  a.consume(1000);
  t.equal(a.bytes, 0, 'consuming never goes below zero');
  a.grow(25);
  t.equal(ledger.reservedBytes('v1'), 75);
  a.release();
  a.release();
  t.equal(ledger.reservedBytes('v1'), 50, 'a second release gives back nothing');
  a.grow(10);
  a.consume(5);
  t.equal(ledger.reservedBytes('v1'), 50, 'a released reservation holds nothing more');
  b.release();
  c.release();
  t.equal(ledger.totalReservedBytes(), 0);
  t.equal(ledger.reservedBytes('v1'), 0);
});

t.test('inodes are held with the bytes and given back on release', async (t) => {
  const ledger = new MemoryLedger();
  const a = ledger.reserve('v1', 10, 1);
  const b = ledger.reserve('v1', 0, 1);
  ledger.reserve('v2', 5);
  t.equal(ledger.reservedInodes('v1'), 2);
  t.equal(ledger.reservedInodes('v2'), 0, 'a write that creates nothing holds no inode');
  a.consume(10);
  t.equal(a.inodes, 1, 'streaming the bytes does not give the inode back');
  a.release();
  b.release();
  b.release();
  t.equal(ledger.reservedInodes('v1'), 0);
  t.equal(ledger.totalReservedInodes(), 0);
});
