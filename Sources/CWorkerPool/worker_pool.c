#include "worker_pool.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// A waiting thread first spins (`spin_turns` pauses, a few microseconds), then yields its core
// to any other runnable thread until `wait_ns` have passed, then sleeps on a futex. The spin
// catches the next region when it follows at once; the yields keep the thread awake for the
// serial code between regions without holding a core another process needs (libgomp's plain
// spin of 300,000 turns made two concurrent fits nine times slower: BENCHMARKS.md, "OpenMP
// spinning on shared cores"); past `wait_ns` it costs nothing while it waits.
static const int spin_turns = 256;
static const long long wait_ns = 50000;

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void pause_once(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/// Returns once `*word != value`. `sleeping` tells the thread that changes `word` to wake this
/// one: this side stores sleeping = 1 and then reads `word` (the futex reads it again), the
/// other changes `word` and then reads `sleeping`, all sequentially consistent, so either this
/// side sees the change or the other sees it sleeping, and no wake-up is lost.
static void wait_while_equal(_Atomic unsigned *word, unsigned value, _Atomic unsigned *sleeping) {
    const long long deadline = now_ns() + wait_ns;
    for (int turn = 0; atomic_load_explicit(word, memory_order_acquire) == value; turn++) {
        if (turn < spin_turns) {
            pause_once();
        } else if (now_ns() < deadline) {
            sched_yield();
        } else {
            atomic_store(sleeping, 1);
            if (atomic_load(word) == value) {
                syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
            }
            atomic_store(sleeping, 0);
        }
    }
}

/// Wakes the thread waiting on `word` if it sleeps (call after changing `word`).
static void wake(_Atomic unsigned *word, _Atomic unsigned *sleeping) {
    if (atomic_load(sleeping)) syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

// Worker p: its go word (bumped once per region it takes part in) on its own cache line.
struct worker {
    _Alignas(64) _Atomic unsigned go;
    _Atomic unsigned sleeping;
    long part;
};

static struct worker workers[DIP_POOL_MAX_PARTS];  // workers[0] unused: part 0 is the caller's
static long started;  // workers 1...started exist; changed only by the region's owner

// The region: written by its owner before it bumps the workers' go words, read by each worker
// after it sees its own bump; the owner waits until `remaining` is 0, every worker done with
// the region, before another region can overwrite it.
static dip_pool_task region_task;
static void *region_context;
static _Atomic unsigned remaining;
static _Atomic unsigned owner_sleeping;
static atomic_flag busy = ATOMIC_FLAG_INIT;

static void *worker_main(void *argument) {
    struct worker *w = argument;
    unsigned seen = 0;
    for (;;) {
        wait_while_equal(&w->go, seen, &w->sleeping);
        seen = atomic_load_explicit(&w->go, memory_order_acquire);
        region_task(region_context, w->part);
        if (atomic_fetch_sub(&remaining, 1) == 1) wake(&remaining, &owner_sleeping);
    }
    return NULL;
}

/// Starts workers up to `count`; 0 when a thread could not be created.
static int start_workers(long count) {
    for (; started < count; started++) {
        struct worker *w = &workers[started + 1];
        w->part = started + 1;
        pthread_attr_t attributes;
        pthread_t thread;
        if (pthread_attr_init(&attributes) != 0) return 0;
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        const int failed = pthread_create(&thread, &attributes, worker_main, w);
        pthread_attr_destroy(&attributes);
        if (failed) return 0;
    }
    return 1;
}

int dip_pool_run(long parts, dip_pool_task task, void *context) {
    if (parts < 2 || parts > DIP_POOL_MAX_PARTS) return -1;
    if (atomic_flag_test_and_set_explicit(&busy, memory_order_acquire)) return -1;
    if (!start_workers(parts - 1)) {
        atomic_flag_clear_explicit(&busy, memory_order_release);
        return -1;
    }
    region_task = task;
    region_context = context;
    atomic_store(&remaining, (unsigned)(parts - 1));
    for (long p = 1; p < parts; p++) {
        atomic_fetch_add(&workers[p].go, 1);
        wake(&workers[p].go, &workers[p].sleeping);
    }
    task(context, 0);
    for (unsigned left; (left = atomic_load_explicit(&remaining, memory_order_acquire)) != 0;) {
        wait_while_equal(&remaining, left, &owner_sleeping);
    }
    atomic_flag_clear_explicit(&busy, memory_order_release);
    return 0;
}

long dip_pool_claim(long *counter) { return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED); }
