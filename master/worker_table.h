/*  worker_table: the worker incarnations a master knows, keyed by routing
    id (the incarnation a worker's DEALER names itself with), each with a
    small slot number that the lease table files the leases sent to it
    under. Filled from Credit on the tasks socket and Heartbeat on the
    results socket.

    A worker's life here: LIVE once its first Credit arrives; DRAINING when
    it says so; LOST when the master gives up on it (silent, replaced by a
    new incarnation of the same id, or its connection gone). A LOST entry
    stays for a while, so that a peer which sends Credit but never a
    heartbeat gets work once and never again; a heartbeat brings a LOST
    worker back (its link was only cut).

    It does not resend or charge tasks: failover and the master do.
*/
#ifndef WORKER_TABLE_H_INCLUDED
#define WORKER_TABLE_H_INCLUDED

#include "tm_codec.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    WORKER_LIVE,
    WORKER_DRAINING,
    WORKER_LOST
} worker_state_t;

typedef struct {
    uint32_t slot;                  //  1, 2, ...: the lease table's owner number
    char incarnation [TM_MAX_INCARNATION_BYTES + 1];    //  its routing id
    char id [TM_MAX_WORKER_ID_BYTES + 1];               //  its worker id
    char host [TM_MAX_WORKER_ID_BYTES + 1];             //  from heartbeats
    uint32_t pid;
    worker_state_t state;
    uint32_t credit;                //  the window it granted
    uint32_t threads;
    uint32_t threads_busy;
    uint32_t threads_min;           //  an autoscaled pool's bounds (0: fixed), from heartbeats
    uint32_t threads_max;
    uint64_t threads_grown;         //  its growth and shrink events
    uint64_t threads_shrunk;
    uint64_t epoch;                 //  its tasks connection count, from Credit
    uint64_t stamp;                 //  its last Credit's stamp, echoed to it
    uint64_t frames;                //  frames sent to it in this job: the last number
    bool reachable;                 //  no send to it failed since its last Credit
    bool heartbeat_seen;            //  at least one heartbeat of this incarnation
    bool replaced;                  //  a newer incarnation of its id came: never back
    bool marker_due;                //  a marker (see Credit.epoch) waits for room
    bool revived;                   //  a heartbeat brought it back from LOST (to log)
    int fd;                         //  the connection its last Credit came on (-1)
    uint64_t done;                  //  final results of tasks sent to it
    uint64_t failed;                //  ... of them not ok
    int64_t joined_us;
    int64_t last_heard_us;          //  last Credit, heartbeat or result
    int64_t heartbeat_us;           //  last heartbeat (0: none)
    int64_t copy_sent_us;           //  --speculate: when it was last sent a copy
    int64_t lost_us;                //  LOST: since then
} worker_info_t;

typedef struct _worker_table_t worker_table_t;

worker_table_t *worker_table_new (void);
void worker_table_destroy (worker_table_t **self_p);

typedef enum {
    WORKER_CREDIT_KNOWN,            //  an entry we had
    WORKER_CREDIT_NEW,              //  a new incarnation
    WORKER_CREDIT_RECONNECTED,      //  an entry we had, on a new connection (epoch)
    WORKER_CREDIT_REFUSED           //  the table is full: ignored
} worker_credit_t;

//  Records a Credit from routing id incarnation on connection fd; adds the
//  worker if new. *worker gets its entry; if a new incarnation has the id of
//  a LIVE or DRAINING one, *replaced gets that one (else NULL).
worker_credit_t worker_table_credit (worker_table_t *self, const char *incarnation,
                                     const tm_credit_t *credit, int fd, int64_t now_us,
                                     worker_info_t **worker, worker_info_t **replaced);
//  Records a heartbeat. Returns the incarnation's entry (a LOST one comes
//  back LIVE unless a newer incarnation replaced it), or NULL if no Credit
//  of it was seen or it was replaced (nothing to attribute).
worker_info_t *worker_table_heartbeat (worker_table_t *self, const tm_heartbeat_t *heartbeat,
                                       int64_t now_us);
//  The entry in slot, or NULL (slots run from 1 to worker_table_slots - 1).
worker_info_t *worker_table_by_slot (worker_table_t *self, uint32_t slot);
size_t worker_table_slots (worker_table_t *self);
//  The LIVE or DRAINING worker whose last Credit came on fd, or NULL.
worker_info_t *worker_table_by_fd (worker_table_t *self, int fd);
//  A LIVE or DRAINING worker silent for longer than timeout_us, or NULL.
worker_info_t *worker_table_silent (worker_table_t *self, int64_t now_us, int64_t timeout_us);
//  Marks a worker LOST.
void worker_table_lose (worker_table_t *self, worker_info_t *worker, int64_t now_us);
//  Forgets workers LOST for longer than keep_us.
void worker_table_forget (worker_table_t *self, int64_t now_us, int64_t keep_us);
//  Workers LIVE now.
size_t worker_table_live (worker_table_t *self);
//  Entries, in any state.
size_t worker_table_size (worker_table_t *self);
//  Iterates every entry (no adding or removing in between).
worker_info_t *worker_table_first (worker_table_t *self);
worker_info_t *worker_table_next (worker_table_t *self);

#endif
