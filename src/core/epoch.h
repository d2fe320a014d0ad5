/* Epoch-based reclamation, SRCU-style: readers bump a counter of the current
 * parity in a per-thread slot; a writer waits until both parities of every
 * slot were seen at zero after it published, then frees what it replaced.
 * Readers never block, never allocate and never write a shared line other
 * than their own slot's. */
#ifndef SL_CORE_EPOCH_H
#define SL_CORE_EPOCH_H

#include <stdatomic.h>
#include <stdint.h>

#define SL_EPOCH_SLOTS 64 /* power of two; threads beyond it share slots */

struct sl_epoch_slot {
    _Alignas(64) _Atomic uint64_t active[2]; /* readers inside, per parity */
};

struct sl_epoch {
    struct sl_epoch_slot *slots; /* SL_EPOCH_SLOTS entries */
    _Atomic uint32_t parity;     /* flipped by sl_epoch_synchronize() */
    _Atomic uint32_t next_slot;  /* hands out slots to new threads */
};

/* What sl_epoch_enter() gives and sl_epoch_exit() takes back. */
struct sl_epoch_token {
    uint32_t slot;
    uint32_t parity;
};

/* The calling thread's slot index + 1 (0: none yet). Threads keep the slot
 * they got from the first epoch they entered; for another lb it is only a
 * spreading hint, since slots are correct however many threads share one. */
extern _Thread_local uint32_t sl_epoch_tls_slot;

/* 0 or SLUICE_ERR_NOMEM. */
int sl_epoch_init(struct sl_epoch *e);
void sl_epoch_fini(struct sl_epoch *e);

static inline void sl_epoch_enter(struct sl_epoch *e, struct sl_epoch_token *t)
{
    uint32_t s = sl_epoch_tls_slot;

    if (s == 0) {
        s = (atomic_fetch_add_explicit(&e->next_slot, 1, memory_order_relaxed) &
             (SL_EPOCH_SLOTS - 1)) +
            1;
        sl_epoch_tls_slot = s;
    }
    t->slot = s - 1;
    t->parity = atomic_load_explicit(&e->parity, memory_order_relaxed) & 1;
    /* seq_cst: ordered before the table load that follows, and against the
     * writer's publish and counter scan (see sl_epoch_synchronize()). */
    atomic_fetch_add_explicit(&e->slots[t->slot].active[t->parity], 1, memory_order_seq_cst);
}

static inline void sl_epoch_exit(struct sl_epoch *e, const struct sl_epoch_token *t)
{
    /* release: every read of the table happens before the writer sees 0. */
    atomic_fetch_sub_explicit(&e->slots[t->slot].active[t->parity], 1, memory_order_release);
}

/* Returns once every reader that could have loaded a pointer replaced
 * before this call has exited. Writers only (under the lb's writer mutex);
 * never call it inside a read section. */
void sl_epoch_synchronize(struct sl_epoch *e);

#endif /* SL_CORE_EPOCH_H */
