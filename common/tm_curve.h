/*  tm_curve: CURVE keys for one process, checked before any socket exists,
    and how a socket uses them (DESIGN.md, "Security").

    The master is the CURVE server on every socket it binds: its secret
    certificate, and a directory of the public certificates it admits,
    enforced by czmq's zauth through ZAP. Workers and the `taskmill` CLI
    are clients: their own secret certificate and the master's public one.
    Certificates are czmq's zcert files: NAME (public) and NAME_secret.

    Not here: which socket is which (tm_socket), or who may do what once
    admitted (every admitted peer is trusted as a worker and an operator).
*/
#ifndef TM_CURVE_H_INCLUDED
#define TM_CURVE_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

#define TM_CURVE_ZAP_DOMAIN "taskmill"
#define TM_CURVE_PATH_MAX 200       //  zcert_load appends "_secret" into 256 bytes

typedef struct _tm_curve_t tm_curve_t;

//  The master's keys: its secret certificate and the directory of allowed
//  public certificates. Refuses a secret open to group or others, a file
//  with no secret key, a directory that is not one, and two certificates
//  in it with one public key (czmq's store would abort on those). Returns
//  NULL with the reason in error.
tm_curve_t *tm_curve_server_new (const char *cert_path, const char *allow_dir,
                                 char *error, size_t error_size);
//  A client's keys: its own secret certificate (checked as above) and the
//  master's public certificate. Returns NULL with the reason in error.
tm_curve_t *tm_curve_client_new (const char *cert_path, const char *server_cert_path,
                                 char *error, size_t error_size);
void tm_curve_destroy (tm_curve_t **self_p);

//  Makes sock a CURVE server (with a ZAP domain and ZMQ_ZAP_ENFORCE_DOMAIN,
//  so that no ZAP answer means no entry) or client. Call before bind or
//  connect. Returns 0, or -1 (logged) if libzmq refused an option.
int tm_curve_apply (const tm_curve_t *self, zsock_t *sock);
//  True for the master's keys.
bool tm_curve_is_server (const tm_curve_t *self);
//  This process's public key, Z85 text.
const char *tm_curve_public_txt (const tm_curve_t *self);

//  Starts czmq's zauth, admitting only the certificates of the server's
//  directory (which it reloads when the directory changes). One per
//  process, before any bind. Returns the actor, or NULL (logged).
zactor_t *tm_curve_auth_new (const tm_curve_t *self);
//  Proves a bound server socket of ours admits no stranger: a throwaway
//  certificate, and a plaintext peer, dial endpoint (tcp://host:port,
//  where a wildcard host means this host). Returns 0 if neither completed
//  a handshake within timeout_ms, -1 (logged) if one did.
int tm_curve_prove_closed (const tm_curve_t *self, const char *endpoint, int timeout_ms);

typedef enum {
    TM_KEYGEN_OK,
    TM_KEYGEN_REFUSED,      //  a bad name, or a file there already
    TM_KEYGEN_FAILED        //  the files could not be written
} tm_keygen_status_t;

//  Writes a new certificate pair: name (public) and name_secret, mode 0600.
//  Refuses to overwrite either. On failure the reason is in error.
tm_keygen_status_t tm_curve_keygen (const char *name, char *error, size_t error_size);

#endif
