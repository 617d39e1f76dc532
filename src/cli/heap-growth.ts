import v8 from 'node:v8';

/** The old generation may grow to five times the live heap before V8's next full GC (V8 picks at most four). */
const HEAP_GROWING_PERCENT = 400;

/**
 * V8 counts external memory allocated since its last full GC (socket read
 * buffers, 64 KiB each) against the old generation's limit, which it sizes
 * from the live heap: ~40 MB for the gateway's ~10 MB. A streamed upload
 * reads ~32 MB between young collections, so without more room every
 * ~50 ms of a fast stream started a full GC: 60–70 per 2 GiB PUT and a
 * quarter of the MB/s (bench/NOTES.md). V8 reads this flag whenever it
 * computes the limit, so it works set at run time — unlike
 * --initial-old-space-size, which Node refuses in NODE_OPTIONS and which
 * would need `env -S` on the #! line (BusyBox's env, Alpine's, has no -S).
 */
export function growHeapForStreams(): void {
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
