/*  tm_memory: malloc settings for the long-running processes.

    glibc gives memory back to the kernel as soon as the top of the heap is
    free and maps blocks over 128 KiB one by one. With a window of tasks
    churning through, that is a brk shrink and regrow (page faults, and TLB
    shootdowns across our threads) over and over, and an mmap plus munmap
    for every large payload. What the processes hold is bounded by their
    windows anyway, so they keep it instead.
*/
#ifndef TM_MEMORY_H_INCLUDED
#define TM_MEMORY_H_INCLUDED

#include <malloc.h>

static inline void
tm_memory_tune (void)
{
    mallopt (M_TRIM_THRESHOLD, 256 * 1024 * 1024);
    mallopt (M_TOP_PAD, 16 * 1024 * 1024);
    mallopt (M_MMAP_THRESHOLD, 32 * 1024 * 1024);
}

#endif
