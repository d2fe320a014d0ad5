#include "epoch.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice.h"

_Thread_local uint32_t sl_epoch_tls_slot;

int sl_epoch_init(struct sl_epoch *e)
{
    size_t size = SL_EPOCH_SLOTS * sizeof(struct sl_epoch_slot);

    e->slots = aligned_alloc(64, size);
    if (e->slots == NULL)
        return SLUICE_ERR_NOMEM;
    memset(e->slots, 0, size);
    atomic_init(&e->parity, 0);
    atomic_init(&e->next_slot, 0);
    return 0;
}

void sl_epoch_fini(struct sl_epoch *e)
{
    free(e->slots);
    e->slots = NULL;
}

static uint64_t readers_of(struct sl_epoch *e, uint32_t parity)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < SL_EPOCH_SLOTS; i++)
        sum += atomic_load_explicit(&e->slots[i].active[parity], memory_order_seq_cst);
    return sum;
}

static void wait_drained(struct sl_epoch *e, uint32_t parity)
{
    for (unsigned spins = 0; readers_of(e, parity) != 0; spins++) {
        if (spins < 64) {
            sched_yield();
        } else {
            struct timespec ts = {0, 20000};

            nanosleep(&ts, NULL);
        }
    }
}

/* Correctness needs only that each parity be seen at zero after the
 * publish: a reader holding an old pointer incremented its counter before
 * the (seq_cst) publish, so it is counted in one of the two scans. The flip
 * before each scan is for progress: new readers go to the other parity, so
 * the scanned one drains even under constant load. */
void sl_epoch_synchronize(struct sl_epoch *e)
{
    atomic_thread_fence(memory_order_seq_cst);
    for (int round = 0; round < 2; round++) {
        uint32_t old = atomic_fetch_xor_explicit(&e->parity, 1, memory_order_seq_cst) & 1;

        wait_drained(e, old);
    }
    atomic_thread_fence(memory_order_seq_cst);
}
