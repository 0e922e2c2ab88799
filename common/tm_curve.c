/*  tm_curve: certificate checks, CURVE socket options, zauth, the start-up
    proof that a stranger is refused, and keygen.

    libzmq 4.3.4 lets a CURVE server admit any client that knows its public
    key when no ZAP handler answers, unless ZMQ_ZAP_ENFORCE_DOMAIN (option
    93, a draft in Debian's header, so czmq's setter is a no-op there) is set
    with zmq_setsockopt. czmq's certificate store asserts when two files
    hold one public key, so the directory is checked the way the store
    reads it (every regular file not ending in _secret, subdirectories too)
    before zauth ever sees it.
*/
#include "tm_curve.h"
#include "tm_endpoint.h"
#include "tm_socket.h"
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

#define S_KEY_TXT_BYTES 40
#define S_NULL_KEY "0000000000000000000000000000000000000000"
#define S_SECRET_SUFFIX "_secret"
#define S_PROOF_REQUEST "{\"cmd\":\"status\"}"

struct _tm_curve_t {
    bool server;                            //  the master's keys
    zcert_t *cert;                          //  ours, with its secret key
    char server_public [S_KEY_TXT_BYTES + 1];   //  client: the master's key
    char *allow_dir;                        //  server: the certificates admitted
};

static bool
s_ends_with (const char *text, const char *suffix)
{
    size_t length = strlen (text), suffix_length = strlen (suffix);
    return length >= suffix_length && strcmp (text + length - suffix_length, suffix) == 0;
}

//  A secret certificate file: a regular file that no one else may read.
static int
s_check_secret_mode (const char *path, char *error, size_t error_size)
{
    struct stat st;
    if (stat (path, &st) != 0) {
        snprintf (error, error_size, "cannot read certificate %s: %s", path, strerror (errno));
        return -1;
    }
    if (!S_ISREG (st.st_mode)) {
        snprintf (error, error_size, "certificate %s is not a regular file", path);
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf (error, error_size, "secret certificate %s is open to group or others (mode %04o): "
                  "refusing it; chmod 600 %s", path, (unsigned) (st.st_mode & 07777), path);
        return -1;
    }
    return 0;
}

//  Loads a secret certificate as zcert_load reads it: PATH_secret first if
//  there is one, so both are checked.
static zcert_t *
s_load_secret (const char *path, char *error, size_t error_size)
{
    if (strlen (path) > TM_CURVE_PATH_MAX) {
        snprintf (error, error_size, "certificate path over %d bytes: %.60s...", TM_CURVE_PATH_MAX, path);
        return NULL;
    }
    char secret_path [TM_CURVE_PATH_MAX + sizeof S_SECRET_SUFFIX];
    snprintf (secret_path, sizeof secret_path, "%s%s", path, S_SECRET_SUFFIX);
    if (s_check_secret_mode (path, error, error_size) != 0
    ||  (access (secret_path, F_OK) == 0
         && s_check_secret_mode (secret_path, error, error_size) != 0))
        return NULL;
    zcert_t *cert = zcert_load (path);
    if (!cert) {
        snprintf (error, error_size, "%s is not a czmq certificate (taskmill keygen NAME makes one)",
                  path);
        return NULL;
    }
    if (streq (zcert_secret_txt (cert), S_NULL_KEY)) {
        snprintf (error, error_size, "%s holds no secret key: give the NAME_secret file that "
                  "taskmill keygen wrote", path);
        zcert_destroy (&cert);
    }
    return cert;
}

//  The directory as czmq's store will read it: no two certificates with one
//  public key. Warns when others may write there (and so admit themselves).
static int
s_check_allow_dir (const char *dir_path, char *error, size_t error_size)
{
    struct stat st;
    if (stat (dir_path, &st) != 0 || !S_ISDIR (st.st_mode)) {
        snprintf (error, error_size, "--allow %s: not a directory", dir_path);
        return -1;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        zsys_warning ("--allow %s is writable by group or others: whoever can write there can "
                      "admit their own certificate", dir_path);
    zdir_t *dir = zdir_new (dir_path, NULL);
    if (!dir) {
        snprintf (error, error_size, "--allow %s: cannot read the directory", dir_path);
        return -1;
    }
    zhash_t *seen = zhash_new ();       //  public key -> the file that holds it
    zhash_autofree (seen);
    zfile_t **files = zdir_flatten (dir);
    int rc = 0;
    size_t certs = 0;
    for (size_t i = 0; rc == 0 && files [i]; i++) {
        const char *name = zfile_filename (files [i], NULL);
        if (!zfile_is_regular (files [i]) || s_ends_with (name, S_SECRET_SUFFIX))
            continue;
        zcert_t *cert = zcert_load (name);
        if (!cert)
            continue;       //  the store skips it too
        const char *other = (const char *) zhash_lookup (seen, zcert_public_txt (cert));
        if (other) {
            snprintf (error, error_size, "--allow %s: %s and %s hold the same public key "
                      "(czmq's certificate store aborts on that): remove one", dir_path, other, name);
            rc = -1;
        }
        else
            zhash_insert (seen, zcert_public_txt (cert), (void *) name);
        certs++;
        zcert_destroy (&cert);
    }
    zdir_flatten_free (&files);
    zdir_destroy (&dir);
    zhash_destroy (&seen);
    if (rc == 0 && certs == 0)
        zsys_warning ("--allow %s holds no certificate yet: no worker is admitted until one is "
                      "added there", dir_path);
    return rc;
}

static bool
s_curve_available (char *error, size_t error_size)
{
    if (zsys_has_curve ())
        return true;
    snprintf (error, error_size, "this libzmq was built without CURVE support");
    return false;
}

tm_curve_t *
tm_curve_server_new (const char *cert_path, const char *allow_dir, char *error, size_t error_size)
{
    assert (cert_path && allow_dir);
    if (!s_curve_available (error, error_size) || s_check_allow_dir (allow_dir, error, error_size))
        return NULL;
    zcert_t *cert = s_load_secret (cert_path, error, error_size);
    if (!cert)
        return NULL;
    tm_curve_t *self = (tm_curve_t *) zmalloc (sizeof (tm_curve_t));
    self->server = true;
    self->cert = cert;
    self->allow_dir = strdup (allow_dir);
    return self;
}

tm_curve_t *
tm_curve_client_new (const char *cert_path, const char *server_cert_path, char *error,
                     size_t error_size)
{
    assert (cert_path && server_cert_path);
    if (!s_curve_available (error, error_size))
        return NULL;
    if (strlen (server_cert_path) > TM_CURVE_PATH_MAX) {
        snprintf (error, error_size, "certificate path over %d bytes", TM_CURVE_PATH_MAX);
        return NULL;
    }
    zcert_t *server = zcert_load (server_cert_path);
    if (!server) {
        snprintf (error, error_size, "--server-cert %s: not a czmq certificate", server_cert_path);
        return NULL;
    }
    zcert_t *cert = s_load_secret (cert_path, error, error_size);
    if (!cert) {
        zcert_destroy (&server);
        return NULL;
    }
    tm_curve_t *self = (tm_curve_t *) zmalloc (sizeof (tm_curve_t));
    self->cert = cert;
    snprintf (self->server_public, sizeof self->server_public, "%s", zcert_public_txt (server));
    zcert_destroy (&server);
    return self;
}

void
tm_curve_destroy (tm_curve_t **self_p)
{
    assert (self_p);
    tm_curve_t *self = *self_p;
    if (!self)
        return;
    zcert_destroy (&self->cert);
    free (self->allow_dir);
    free (self);
    *self_p = NULL;
}

bool
tm_curve_is_server (const tm_curve_t *self)
{
    return self->server;
}

const char *
tm_curve_public_txt (const tm_curve_t *self)
{
    return zcert_public_txt (self->cert);
}

int
tm_curve_apply (const tm_curve_t *self, zsock_t *sock)
{
    zcert_apply (self->cert, sock);
    if (!self->server) {
        zsock_set_curve_serverkey (sock, self->server_public);
        return 0;
    }
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, TM_CURVE_ZAP_DOMAIN);
    //  Without this, a handshake with no ZAP handler answering succeeds.
    int one = 1, value = 0;
    size_t size = sizeof value;
    if (zmq_setsockopt (zsock_resolve (sock), ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one) != 0
    ||  zmq_getsockopt (zsock_resolve (sock), ZMQ_ZAP_ENFORCE_DOMAIN, &value, &size) != 0
    ||  value != 1 || zsock_curve_server (sock) != 1) {
        zsys_error ("cannot make a socket a fail-closed CURVE server (ZMQ_ZAP_ENFORCE_DOMAIN: %s)",
                    zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}

zactor_t *
tm_curve_auth_new (const tm_curve_t *self)
{
    assert (self->server);
    //  Only the main thread should see SIGINT/SIGTERM.
    sigset_t block, previous;
    sigemptyset (&block);
    sigaddset (&block, SIGINT);
    sigaddset (&block, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &block, &previous);
    zactor_t *auth = zactor_new (zauth, NULL);
    pthread_sigmask (SIG_SETMASK, &previous, NULL);
    //  zauth answers each command with a signal once it is in effect.
    if (!auth || zstr_sendx (auth, "CURVE", self->allow_dir, NULL) != 0 || zsock_wait (auth) != 0) {
        zsys_error ("cannot start the ZAP handler (zauth) for --allow %s", self->allow_dir);
        zactor_destroy (&auth);
    }
    return auth;
}

//  Where to dial a bound endpoint from this host: a wildcard is loopback.
static void
s_dial_endpoint (const char *bound, char *dial, size_t size)
{
    const char *port = strrchr (bound, ':');
    if (strncmp (bound, "tcp://0.0.0.0:", 14) == 0 || strncmp (bound, "tcp://*:", 8) == 0)
        snprintf (dial, size, "tcp://127.0.0.1%s", port);
    else
    if (strncmp (bound, "tcp://[::]:", 11) == 0)
        snprintf (dial, size, "tcp://[::1]%s", port);
    else
        snprintf (dial, size, "%s", bound);
}

//  One peer of the proof: a DEALER that asks for the status as soon as it
//  is connected, and its handshake events.
typedef struct {
    zsock_t *sock;
    zsock_t *monitor;
    bool refused;               //  its handshake failed
} s_prober_t;

static void
s_prober_open (s_prober_t *prober, zcert_t *cert, const char *server_key, const char *endpoint)
{
    prober->sock = zsock_new (ZMQ_DEALER);
    assert (prober->sock);
    zsock_set_linger (prober->sock, 0);
    zsock_set_ipv6 (prober->sock, strstr (endpoint, "[") != NULL);
    if (cert) {
        zcert_apply (cert, prober->sock);
        zsock_set_curve_serverkey (prober->sock, server_key);
    }
    prober->monitor = tm_socket_monitor_events (prober->sock,
        ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    prober->refused = false;
    if (zsock_connect (prober->sock, "%s", endpoint) == 0)
        zstr_send (prober->sock, S_PROOF_REQUEST);
}

static void
s_prober_close (s_prober_t *prober)
{
    zmq_socket_monitor (zsock_resolve (prober->sock), NULL, 0);
    zsock_destroy (&prober->monitor);
    zsock_destroy (&prober->sock);
}

//  Reads what the prober got. Returns true if it was let in.
static bool
s_prober_read (s_prober_t *prober, zmq_pollitem_t *items)
{
    if (items [0].revents & ZMQ_POLLIN) {
        int event = tm_socket_monitor_event (prober->monitor);
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            return true;
        if (event)
            prober->refused = true;
    }
    return (items [1].revents & ZMQ_POLLIN) != 0;   //  an answer: certainly let in
}

int
tm_curve_prove_closed (const tm_curve_t *self, const char *endpoint, int timeout_ms)
{
    assert (self->server);
    char dial [TM_ENDPOINT_MAX];
    s_dial_endpoint (endpoint, dial, sizeof dial);
    zcert_t *stranger = zcert_new ();
    assert (stranger);
    s_prober_t probers [2];
    s_prober_open (&probers [0], stranger, zcert_public_txt (self->cert), dial);
    s_prober_open (&probers [1], NULL, NULL, dial);
    const char *admitted = NULL;
    int64_t deadline = zclock_mono () + timeout_ms;
    while (!admitted && !(probers [0].refused && probers [1].refused)) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        zmq_pollitem_t items [4] = {
            { zsock_resolve (probers [0].monitor), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (probers [0].sock), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (probers [1].monitor), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (probers [1].sock), 0, ZMQ_POLLIN, 0 },
        };
        if (zmq_poll (items, 4, (long) left) == -1)
            break;
        if (s_prober_read (&probers [0], items))
            admitted = "a certificate not in the --allow directory";
        else
        if (s_prober_read (&probers [1], items + 2))
            admitted = "a plaintext (NULL mechanism) peer";
    }
    s_prober_close (&probers [0]);
    s_prober_close (&probers [1]);
    zcert_destroy (&stranger);
    if (admitted) {
        zsys_error ("CURVE is not closed: %s completed a handshake with %s; refusing to run",
                    admitted, dial);
        return -1;
    }
    return 0;
}

tm_keygen_status_t
tm_curve_keygen (const char *name, char *error, size_t error_size)
{
    if (!*name || strlen (name) > TM_CURVE_PATH_MAX || s_ends_with (name, S_SECRET_SUFFIX)) {
        snprintf (error, error_size, "keygen wants a NAME of 1 to %d bytes, not ending in %s",
                  TM_CURVE_PATH_MAX, S_SECRET_SUFFIX);
        return TM_KEYGEN_REFUSED;
    }
    char secret [TM_CURVE_PATH_MAX + sizeof S_SECRET_SUFFIX];
    snprintf (secret, sizeof secret, "%s%s", name, S_SECRET_SUFFIX);
    if (access (name, F_OK) == 0 || access (secret, F_OK) == 0) {
        snprintf (error, error_size, "%s or %s exists already: keygen overwrites no certificate",
                  name, secret);
        return TM_KEYGEN_REFUSED;
    }
    zcert_t *cert = zcert_new ();
    assert (cert);
    const char *base = strrchr (name, '/');
    zcert_set_meta (cert, "name", "%s", base ? base + 1 : name);
    zcert_set_meta (cert, "created-by", "taskmill keygen");
    //  czmq leaves the umask at its own default after saving: put ours back.
    mode_t umask_before = umask (077);
    umask (umask_before);
    int rc = zcert_save (cert, name);
    umask (umask_before);
    zcert_destroy (&cert);
    //  czmq creates the secret private but keeps the mode of a file that
    //  was there; set it whatever happened in between.
    if (rc != 0 || access (name, F_OK) != 0 || chmod (secret, 0600) != 0) {
        snprintf (error, error_size, "cannot write %s and %s: %s", name, secret, strerror (errno));
        return TM_KEYGEN_FAILED;
    }
    return TM_KEYGEN_OK;
}
