/*  exec: runs the payload as `/bin/sh -c PAYLOAD` and returns its stdout.
    Refused (REJECTED) unless the worker was started with --allow-exec.

    The command runs in a process group of its own, with stdin from
    /dev/null and every signal at its default disposition. Its stdout is
    captured up to the task's output limit (--max-output; the rest is read and dropped,
    so the command never blocks on a full pipe); the last 4 KiB of its
    stderr go into the error when it fails. exit_code is the exit status,
    or minus the signal number that killed it.

    At the deadline the whole group is killed (TIMEOUT). When the shell
    exits, whatever it left running in its group is killed too: a task
    leaves no processes behind, and a background child that holds our
    pipes open cannot keep the task running.

    Several executor threads call this at once: nothing here is shared,
    every descriptor is close-on-exec so no other thread's child inherits
    it, and posix_spawn (vfork-style in glibc) is safe in threads.
*/
#define _GNU_SOURCE
#include "handlers.h"
#include "tm_clock.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_STDERR_TAIL_BYTES 4096
#define S_READ_CHUNK_BYTES 16384
//  Reads per wake-up, so a command that writes without pause cannot keep
//  us from checking the deadline.
#define S_READS_PER_WAKE 4
//  Reads after the group is killed: enough for a full pipe, and a bound
//  should a process outside the group hold the write end.
#define S_READS_AFTER_KILL 64
//  Without a pidfd we cannot poll for the shell's exit, so look this often.
#define S_EXIT_CHECK_MS 10

//  One run of one command.
typedef struct {
    pid_t pid;                          //  the shell, leader of its group
    int pid_fd;                         //  readable when the shell exits, or -1
    int out_fd;                         //  read end of stdout, or -1 at EOF
    int err_fd;                         //  read end of stderr, or -1 at EOF
    uint8_t *out;                       //  captured stdout, heap
    size_t out_size;                    //  bytes captured
    size_t out_capacity;                //  bytes allocated
    size_t out_max;                     //  bytes kept at most (--max-output)
    char tail [S_STDERR_TAIL_BYTES];    //  last bytes of stderr
    size_t tail_size;                   //  bytes in tail
} s_run_t;

static void
s_close (int *fd)
{
    if (*fd >= 0)
        close (*fd);
    *fd = -1;
}

//  Makes a close-on-exec pipe whose ends are above stderr (a daemon may
//  have 0-2 closed, and the child's dup2 onto 1 and 2 must not clobber
//  them) and whose read end does not block. Returns 0, or an errno.
static int
s_pipe_open (int *read_fd, int *write_fd)
{
    int fds [2];
    if (pipe2 (fds, O_CLOEXEC) != 0)
        return errno;
    for (int index = 0; index < 2; index++) {
        if (fds [index] > STDERR_FILENO)
            continue;
        int moved = fcntl (fds [index], F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        int error = errno;
        close (fds [index]);
        fds [index] = moved;
        if (moved < 0) {
            if (fds [1 - index] >= 0)
                close (fds [1 - index]);
            return error;
        }
    }
    //  O_NONBLOCK is per open file, and the write end is a separate one:
    //  the child still writes in blocking mode.
    fcntl (fds [0], F_SETFL, O_NONBLOCK);
    *read_fd = fds [0];
    *write_fd = fds [1];
    return 0;
}

//  Starts /bin/sh -c command writing into out_write and err_write.
//  Returns 0, or an errno.
static int
s_spawn (s_run_t *self, const char *command, int out_write, int err_write)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_addopen (&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2 (&actions, out_write, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2 (&actions, err_write, STDERR_FILENO);
    posix_spawnattr_init (&attr);
    //  Executor threads block SIGINT and SIGTERM, and the worker may ignore
    //  SIGPIPE; a command must see none of that.
    sigset_t none, all;
    sigemptyset (&none);
    sigfillset (&all);
    sigdelset (&all, SIGKILL);
    sigdelset (&all, SIGSTOP);
    posix_spawnattr_setsigmask (&attr, &none);
    posix_spawnattr_setsigdefault (&attr, &all);
    posix_spawnattr_setpgroup (&attr, 0);
    posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
                                   | POSIX_SPAWN_SETSIGDEF);
    char *argv [] = { "sh", "-c", (char *) command, NULL };
    int rc = posix_spawn (&self->pid, "/bin/sh", &actions, &attr, argv, environ);
    posix_spawnattr_destroy (&attr);
    posix_spawn_file_actions_destroy (&actions);
    return rc;
}

//  Opens a pidfd for the shell, or -1 where the kernel has none (< 5.3).
static int
s_pid_fd_open (pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int) syscall (SYS_pidfd_open, pid, 0);
#else
    (void) pid;
    return -1;
#endif
}

//  Keeps the first out_max bytes of stdout.
static void
s_keep_out (s_run_t *self, const char *data, size_t size)
{
    size_t room = self->out_max - self->out_size;
    if (size > room)
        size = room;
    if (size == 0)
        return;
    if (self->out_size + size > self->out_capacity) {
        size_t capacity = self->out_capacity ? self->out_capacity : 4096;
        while (capacity < self->out_size + size)
            capacity *= 2;
        if (capacity > self->out_max)
            capacity = self->out_max;
        self->out = (uint8_t *) realloc (self->out, capacity);
        assert (self->out);
        self->out_capacity = capacity;
    }
    memcpy (self->out + self->out_size, data, size);
    self->out_size += size;
}

//  Keeps the last S_STDERR_TAIL_BYTES of stderr.
static void
s_keep_tail (s_run_t *self, const char *data, size_t size)
{
    if (size >= S_STDERR_TAIL_BYTES) {
        memcpy (self->tail, data + size - S_STDERR_TAIL_BYTES, S_STDERR_TAIL_BYTES);
        self->tail_size = S_STDERR_TAIL_BYTES;
        return;
    }
    size_t drop = self->tail_size + size > S_STDERR_TAIL_BYTES
                ? self->tail_size + size - S_STDERR_TAIL_BYTES : 0;
    memmove (self->tail, self->tail + drop, self->tail_size - drop);
    self->tail_size -= drop;
    memcpy (self->tail + self->tail_size, data, size);
    self->tail_size += size;
}

//  Reads what *fd holds now, at most reads times, into stdout or stderr;
//  closes it at EOF.
static void
s_read_pipe (s_run_t *self, int *fd, int reads)
{
    char chunk [S_READ_CHUNK_BYTES];
    while (*fd >= 0 && reads-- > 0) {
        ssize_t size = read (*fd, chunk, sizeof (chunk));
        if (size < 0 && errno == EINTR)
            continue;
        if (size <= 0) {
            if (size == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                s_close (fd);
            return;
        }
        if (fd == &self->out_fd)
            s_keep_out (self, chunk, (size_t) size);
        else
            s_keep_tail (self, chunk, (size_t) size);
    }
}

//  True once the shell has exited. Leaves it a zombie, so its pid (our
//  group id) cannot be reused before we kill the group.
static bool
s_has_exited (s_run_t *self)
{
    siginfo_t info;
    memset (&info, 0, sizeof (info));
    int rc = waitid (P_PID, (id_t) self->pid, &info, WEXITED | WNOHANG | WNOWAIT);
    return rc == 0 ? info.si_pid == self->pid : errno != EINTR;
}

//  Milliseconds poll may wait: to the deadline, capped at the exit check
//  interval when there is no pidfd; -1 for ever.
static int
s_poll_timeout (const s_run_t *self, int64_t deadline_us)
{
    int64_t timeout_ms = -1;
    if (deadline_us > 0) {
        int64_t left_us = deadline_us - tm_clock_now_us ();
        timeout_ms = left_us > 0 ? (left_us + 999) / 1000 : 0;
    }
    if (self->pid_fd < 0 && (timeout_ms < 0 || timeout_ms > S_EXIT_CHECK_MS))
        timeout_ms = S_EXIT_CHECK_MS;
    return timeout_ms > INT32_MAX ? INT32_MAX : (int) timeout_ms;
}

//  Reads stdout and stderr until the shell exits (returns 0) or the
//  deadline passes (returns -1).
static int
s_collect (s_run_t *self, int64_t deadline_us)
{
    while (true) {
        struct pollfd items [3];
        nfds_t count = 0;
        int fds [3] = { self->out_fd, self->err_fd, self->pid_fd };
        for (int index = 0; index < 3; index++)
            if (fds [index] >= 0)
                items [count++] = (struct pollfd) { .fd = fds [index], .events = POLLIN };
        int rc = poll (items, count, s_poll_timeout (self, deadline_us));
        //  poll fails only on bad arguments or no memory; either way we
        //  can no longer watch the command, so stop it as at a timeout.
        if (rc < 0 && errno != EINTR)
            return -1;
        s_read_pipe (self, &self->out_fd, S_READS_PER_WAKE);
        s_read_pipe (self, &self->err_fd, S_READS_PER_WAKE);
        if (self->pid_fd < 0 || rc > 0) {
            if (s_has_exited (self))
                return 0;
        }
        if (deadline_us > 0 && tm_clock_now_us () >= deadline_us)
            return -1;
    }
}

//  Kills what is left of the group, takes the last output, reaps the shell.
//  Returns its wait status.
static int
s_finish (s_run_t *self)
{
    kill (-self->pid, SIGKILL);
    //  Killed processes write nothing more; what they wrote is in the pipes.
    s_read_pipe (self, &self->out_fd, S_READS_AFTER_KILL);
    s_read_pipe (self, &self->err_fd, S_READS_AFTER_KILL);
    s_close (&self->out_fd);
    s_close (&self->err_fd);
    s_close (&self->pid_fd);
    int status = 0;
    while (waitpid (self->pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

//  Sets the output's status, exit code and error from the wait status.
static void
s_report (s_run_t *self, const handler_input_t *input, int status,
          bool timed_out, int64_t start_us, handler_output_t *output)
{
    output->output = self->out;
    output->output_size = self->out_size;
    self->out = NULL;
    if (WIFSIGNALED (status))
        output->exit_code = -WTERMSIG (status);
    else
        output->exit_code = WEXITSTATUS (status);
    if (timed_out) {
        uint32_t after_ms = input->timeout_ms
                          ? input->timeout_ms
                          : (uint32_t) ((tm_clock_now_us () - start_us) / 1000);
        handler_output_fail (output, TM_STATUS_TIMEOUT, "timed out after %u ms", after_ms);
        return;
    }
    if (output->exit_code == 0)
        return;
    //  The end of stderr says why; keep it whole within the error's bound.
    char prefix [64];
    if (WIFSIGNALED (status))
        snprintf (prefix, sizeof (prefix), "killed by signal %d", WTERMSIG (status));
    else
        snprintf (prefix, sizeof (prefix), "exit status %d", output->exit_code);
    size_t tail_size = self->tail_size;
    while (tail_size > 0 && (self->tail [tail_size - 1] == '\n' || self->tail [tail_size - 1] == '\r'))
        tail_size--;
    size_t room = TM_MAX_ERROR_BYTES - strlen (prefix) - 2;
    const char *tail = self->tail + (tail_size > room ? tail_size - room : 0);
    if (tail_size > room)
        tail_size = room;
    if (tail_size == 0)
        handler_output_fail (output, TM_STATUS_FAILED, "%s", prefix);
    else
        handler_output_fail (output, TM_STATUS_FAILED, "%s: %.*s", prefix, (int) tail_size, tail);
}

//  Spawns the command and waits for it; fills output.
static void
s_run (const handler_input_t *input, const char *command, handler_output_t *output)
{
    s_run_t self = { .pid = -1, .pid_fd = -1, .out_fd = -1, .err_fd = -1,
                     .out_max = handler_output_limit (input) };
    int out_write = -1, err_write = -1;
    int error = s_pipe_open (&self.out_fd, &out_write);
    if (error == 0)
        error = s_pipe_open (&self.err_fd, &err_write);
    if (error == 0)
        error = s_spawn (&self, command, out_write, err_write);
    //  Our copies of the write ends must go, or we would never see EOF.
    s_close (&out_write);
    s_close (&err_write);
    if (error != 0) {
        s_close (&self.out_fd);
        s_close (&self.err_fd);
        char text [128];
        //  GNU strerror_r: thread-safe, returns the text it chose.
        handler_output_fail (output, TM_STATUS_FAILED, "exec: cannot start /bin/sh: %s",
                             strerror_r (error, text, sizeof (text)));
        return;
    }
    int64_t start_us = tm_clock_now_us ();
    self.pid_fd = s_pid_fd_open (self.pid);
    bool timed_out = s_collect (&self, input->deadline_us) != 0;
    int status = s_finish (&self);
    s_report (&self, input, status, timed_out, start_us, output);
    free (self.out);
}

void
handler_exec (const handler_input_t *input, handler_output_t *output)
{
    if (!input->allow_exec) {
        handler_output_fail (output, TM_STATUS_REJECTED,
                             "exec not allowed: start the worker with --allow-exec");
        return;
    }
    if (input->payload_size == 0 || memchr (input->payload, 0, input->payload_size)) {
        handler_output_fail (output, TM_STATUS_FAILED,
                             input->payload_size == 0 ? "exec: empty command"
                                                      : "exec: command contains a NUL byte");
        return;
    }
    if (input->deadline_us > 0 && tm_clock_now_us () >= input->deadline_us) {
        handler_output_fail (output, TM_STATUS_TIMEOUT, "timed out after %u ms", input->timeout_ms);
        return;
    }
    char *command = (char *) zmalloc (input->payload_size + 1);
    memcpy (command, input->payload, input->payload_size);
    s_run (input, command, output);
    free (command);
}
