/*  Tests for tm_curve: keygen's files and modes, the checks that refuse
    keys before any socket exists (an open secret, a public file given as
    the secret, two certificates with one key in the allow directory), and
    the start-up proof against real sockets on tcp://127.0.0.1:*: a CURVE
    server with no ZAP enforcement is caught admitting a stranger; one with
    ZAP_ENFORCE_DOMAIN and zauth is not, and still admits a listed client.
    Every wait is a zpoller_wait or zmq_poll with a deadline.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tm_curve.h"
#include "tm_socket.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_WAIT_MS 5000
#define S_PROOF_MS 1000

typedef struct {
    char dir [64];              //  temp dir: master, worker, stranger pairs
    char allow [96];            //  dir/allow: the worker's public certificate
    char path [128];            //  scratch for s_path
} s_rig_t;

static const char *
s_path (s_rig_t *rig, const char *name)
{
    snprintf (rig->path, sizeof rig->path, "%s/%s", rig->dir, name);
    return rig->path;
}

static void
s_keygen (s_rig_t *rig, const char *name)
{
    char error [512];
    assert_int_equal (tm_curve_keygen (s_path (rig, name), error, sizeof error), TM_KEYGEN_OK);
}

static int
s_setup (void **state)
{
    s_rig_t *rig = (s_rig_t *) calloc (1, sizeof (s_rig_t));
    snprintf (rig->dir, sizeof rig->dir, "/tmp/test_curve.XXXXXX");
    assert_non_null (mkdtemp (rig->dir));
    snprintf (rig->allow, sizeof rig->allow, "%s/allow", rig->dir);
    assert_int_equal (mkdir (rig->allow, 0700), 0);
    s_keygen (rig, "master");
    s_keygen (rig, "allow/worker");
    *state = rig;
    return 0;
}

static int
s_teardown (void **state)
{
    s_rig_t *rig = (s_rig_t *) *state;
    zdir_t *dir = zdir_new (rig->dir, NULL);
    if (dir)
        zdir_remove (dir, true);
    zdir_destroy (&dir);
    free (rig);
    return 0;
}

static tm_curve_t *
s_server (s_rig_t *rig)
{
    char error [512], cert [128];
    snprintf (cert, sizeof cert, "%s/master_secret", rig->dir);
    tm_curve_t *curve = tm_curve_server_new (cert, rig->allow, error, sizeof error);
    if (!curve)
        fprintf (stderr, "%s\n", error);
    assert_non_null (curve);
    return curve;
}

//  --- keygen ---------------------------------------------------------------------

static void
keygen_writes_a_public_file_and_a_private_secret (void **state)
{
    s_rig_t *rig = (s_rig_t *) *state;
    struct stat st;
    assert_int_equal (stat (s_path (rig, "master_secret"), &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
    assert_int_equal (stat (s_path (rig, "master"), &st), 0);
    zcert_t *public = zcert_load (s_path (rig, "allow/worker"));
    assert_non_null (public);
    zcert_destroy (&public);
}

static void
keygen_overwrites_nothing (void **state)
{
    s_rig_t *rig = (s_rig_t *) *state;
    char error [512];
    assert_int_equal (tm_curve_keygen (s_path (rig, "master"), error, sizeof error),
                      TM_KEYGEN_REFUSED);
    assert_non_null (strstr (error, "exists"));
    assert_int_equal (tm_curve_keygen ("", error, sizeof error), TM_KEYGEN_REFUSED);
    assert_int_equal (tm_curve_keygen (s_path (rig, "nodir/x"), error, sizeof error),
                      TM_KEYGEN_FAILED);
}

//  --- checks before any socket ------------------------------------------------------

static void
a_secret_open_to_others_is_refused (void **state)
{
    s_rig_t *rig = (s_rig_t *) *state;
    s_keygen (rig, "open");
    assert_int_equal (chmod (s_path (rig, "open_secret"), 0644), 0);
    char error [512], cert [128];
    snprintf (cert, sizeof cert, "%s/open_secret", rig->dir);
    assert_null (tm_curve_server_new (cert, rig->allow, error, sizeof error));
    assert_non_null (strstr (error, "mode 0644"));
    assert_null (tm_curve_client_new (cert, s_path (rig, "master"), error, sizeof error));
    assert_non_null (strstr (error, "group or others"));
}

static void
a_public_certificate_is_no_secret (void **state)
{
    s_rig_t *rig = (s_rig_t *) *state;
    s_keygen (rig, "pub");
    char error [512], cert [128];
    snprintf (cert, sizeof cert, "%s/pub", rig->dir);
    assert_int_equal (chmod (cert, 0600), 0);
    assert_int_equal (unlink (s_path (rig, "pub_secret")), 0);
    assert_null (tm_curve_server_new (cert, rig->allow, error, sizeof error));
    assert_non_null (strstr (error, "no secret key"));
}

static void
two_files_with_one_key_in_the_directory_are_refused (void **state)
{
    s_rig_t *rig = (s_rig_t *) *state;
    char error [512], copy [128];
    snprintf (copy, sizeof copy, "%s/allow/sub", rig->dir);
    assert_int_equal (mkdir (copy, 0700), 0);
    zcert_t *cert = zcert_load (s_path (rig, "allow/worker"));
    assert_non_null (cert);
    //  In a subdirectory: czmq's store reads those too.
    snprintf (copy, sizeof copy, "%s/allow/sub/again", rig->dir);
    assert_int_equal (zcert_save_public (cert, copy), 0);
    zcert_destroy (&cert);
    snprintf (rig->path, sizeof rig->path, "%s/master_secret", rig->dir);
    assert_null (tm_curve_server_new (rig->path, rig->allow, error, sizeof error));
    assert_non_null (strstr (error, "same public key"));
    assert_int_equal (unlink (copy), 0);
    tm_curve_t *curve = s_server (rig);
    tm_curve_destroy (&curve);
    assert_null (curve);
}

//  --- the proof ---------------------------------------------------------------------

//  A CURVE server that trusts whoever knows its key: what the proof is for.
static void
an_unenforced_server_fails_the_proof (void **state)
{
    s_rig_t *rig = (s_rig_t *) *state;
    tm_curve_t *curve = s_server (rig);
    zcert_t *cert = zcert_load (s_path (rig, "master_secret"));
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zcert_apply (cert, router);
    zsock_set_curve_server (router, 1);
    assert_true (zsock_bind (router, "tcp://127.0.0.1:*") > 0);
    char *endpoint = zsock_last_endpoint (router);
    assert_int_equal (tm_curve_prove_closed (curve, endpoint, S_PROOF_MS), -1);
    zstr_free (&endpoint);
    zsock_destroy (&router);
    zcert_destroy (&cert);
    tm_curve_destroy (&curve);
}

//  Fail closed: with the domain enforced and no ZAP handler, no one gets in.
static void
an_enforced_server_without_zauth_admits_no_stranger (void **state)
{
    s_rig_t *rig = (s_rig_t *) *state;
    tm_curve_t *curve = s_server (rig);
    zsock_t *router = tm_socket_admin_router ("tcp://127.0.0.1:*", curve);
    assert_non_null (router);
    char *endpoint = zsock_last_endpoint (router);
    assert_int_equal (tm_curve_prove_closed (curve, endpoint, S_PROOF_MS), 0);
    zstr_free (&endpoint);
    zsock_destroy (&router);
    tm_curve_destroy (&curve);
}

static void
zauth_admits_a_listed_client_and_no_stranger (void **state)
{
    s_rig_t *rig = (s_rig_t *) *state;
    tm_curve_t *curve = s_server (rig);
    zactor_t *auth = tm_curve_auth_new (curve);
    assert_non_null (auth);
    zsock_t *router = tm_socket_admin_router ("tcp://127.0.0.1:*", curve);
    assert_non_null (router);
    char *endpoint = zsock_last_endpoint (router);
    assert_int_equal (tm_curve_prove_closed (curve, endpoint, S_PROOF_MS), 0);
    //  The worker's own pair: its secret beside the master's public file.
    char error [512], secret [128], server [128];
    snprintf (secret, sizeof secret, "%s/allow/worker_secret", rig->dir);
    snprintf (server, sizeof server, "%s/master", rig->dir);
    //  (A _secret file in the directory is skipped by the store, as here.)
    tm_curve_t *client = tm_curve_client_new (secret, server, error, sizeof error);
    assert_non_null (client);
    zsock_t *dealer = tm_socket_admin_dealer (endpoint, client);
    assert_non_null (dealer);
    zstr_send (dealer, "hello");
    zpoller_t *poller = zpoller_new (router, NULL);
    assert_true (zpoller_wait (poller, S_WAIT_MS) == router);
    zmsg_t *msg = zmsg_recv (router);
    assert_int_equal (zmsg_size (msg), 2);
    zmsg_destroy (&msg);
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    tm_curve_destroy (&client);
    zstr_free (&endpoint);
    zsock_destroy (&router);
    zactor_destroy (&auth);
    tm_curve_destroy (&curve);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (keygen_writes_a_public_file_and_a_private_secret,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (keygen_overwrites_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (a_secret_open_to_others_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (a_public_certificate_is_no_secret, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (two_files_with_one_key_in_the_directory_are_refused,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (an_unenforced_server_fails_the_proof, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (an_enforced_server_without_zauth_admits_no_stranger,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (zauth_admits_a_listed_client_and_no_stranger,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
