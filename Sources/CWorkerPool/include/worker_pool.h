// A pool of worker threads for the CPU backend's parallel regions (ChannelParallel): part 0
// of a region runs on the calling thread and part p on worker p. A worker stays awake for a
// short while after its part (spinning, then yielding its core) before it sleeps, so the next
// region, usually microseconds away, finds it awake: Dispatch's concurrentPerform, whose
// workers sleep at once, took 42-64 us a region to wake one here, and an iteration of the
// text net runs about 230 regions (BENCHMARKS.md, twelfth part).
#ifndef DIP_WORKER_POOL_H
#define DIP_WORKER_POOL_H

/// The most parts one region may have (the caller plus 255 workers).
#define DIP_POOL_MAX_PARTS 256

/// One part of a region: `task(context, part)`.
typedef void (*dip_pool_task)(void *context, long part);

/// Runs `task(context, p)` for every p in 0..<parts, part 0 on the calling thread and part p on
/// worker p (started the first time a region needs it), and returns 0 once every part has
/// returned. Returns -1 without running any part when the pool cannot take the region: another
/// region is running (a nested call, or another thread's), `parts` is outside
/// 2...DIP_POOL_MAX_PARTS, or a worker thread could not be started; the caller then runs the
/// parts some other way.
int dip_pool_run(long parts, dip_pool_task task, void *context);

/// Returns `*counter` and adds 1 to it, atomically: the parts of a region that share the
/// counter each claim the next index of their work this way (dynamic scheduling).
long dip_pool_claim(long *counter);

#endif
