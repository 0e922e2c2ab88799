/*  tm_exit: the exit statuses every taskmill program uses (DESIGN.md). */
#ifndef TM_EXIT_H_INCLUDED
#define TM_EXIT_H_INCLUDED

#define TM_EXIT_OK 0          //  every task ended ok (or, for a worker, a clean stop)
#define TM_EXIT_TASKS_FAILED 1    //  some task ended not ok
#define TM_EXIT_USAGE 2       //  bad usage or bad input
#define TM_EXIT_RUNTIME 3     //  runtime failure (bind error, I/O error, ...)

//  Internal: options parsed, but the program should exit 0 now (--help).
#define TM_EXIT_HELP_SHOWN -1

#endif
