/*  tm_tsan: happens-before annotations for ThreadSanitizer, empty in any
    other build. Debian's libzmq is not instrumented, so TSan cannot see
    that a pointer sent through an inproc socket was written before the
    send and read after the receive: the sender marks the object released
    before zmq_send, the receiver acquires it after zmq_recv. Only where a
    pointer crosses threads through a socket (executor blocks, sink events).
*/
#ifndef TM_TSAN_H_INCLUDED
#define TM_TSAN_H_INCLUDED

#if defined (__SANITIZE_THREAD__)
#   define TM_TSAN 1
#elif defined (__has_feature)
#   if __has_feature (thread_sanitizer)
#       define TM_TSAN 1
#   endif
#endif

#ifdef TM_TSAN
void __tsan_acquire (void *addr);
void __tsan_release (void *addr);
#   define TM_TSAN_RELEASE(addr) __tsan_release ((void *) (addr))
#   define TM_TSAN_ACQUIRE(addr) __tsan_acquire ((void *) (addr))
#else
#   define TM_TSAN_RELEASE(addr) ((void) 0)
#   define TM_TSAN_ACQUIRE(addr) ((void) 0)
#endif

#endif
