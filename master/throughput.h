/*  throughput: how many tasks became final in each second of a job, in
    constant memory. THROUGHPUT_BUCKETS counts, each bucket_s wide from the
    start; when time runs past the last, neighbours are added in pairs and
    the width doubles, so a week-long job keeps 256 buckets of 4,096 s and
    a short one keeps its seconds. The counts always sum to what was added.
*/
#ifndef THROUGHPUT_H_INCLUDED
#define THROUGHPUT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define THROUGHPUT_BUCKETS 256      //  even: halving adds pairs

typedef struct {
    int64_t start_us;               //  monotonic; bucket 0 begins here
    int64_t bucket_us;              //  width of each bucket: 1 s, 2 s, 4 s, ...
    uint64_t counts [THROUGHPUT_BUCKETS];
    size_t used;                    //  buckets up to the latest one counted into
    size_t current;                 //  the bucket counted into last, and its span:
    int64_t current_from_us;        //  results in it need no division
    int64_t current_to_us;
} throughput_t;

void throughput_init (throughput_t *self, int64_t start_us);
//  Counts n results final at now_us (monotonic; before the start counts
//  as the start).
void throughput_add (throughput_t *self, int64_t now_us, uint64_t n);
//  Makes the buckets reach now_us (empty ones at the end of a job count).
void throughput_extend (throughput_t *self, int64_t now_us);

#endif
