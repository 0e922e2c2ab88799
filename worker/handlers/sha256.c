/*  sha256: the output is the lower-case hex SHA-256 digest of the payload
    (64 characters). A payload that starts with "rounds=N;" (N from 1 to
    10000000) hashes the rest, then hashes the 32-byte raw digest N-1 more
    times, which makes a CPU-bound task of any length for benchmarks. Long
    runs check the deadline every 1000 rounds and stop with TIMEOUT.
*/
#include "handlers.h"
#include "tm_clock.h"
#include "tm_endpoint.h"
#include <ctype.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#define S_ROUNDS_PREFIX "rounds="
#define S_ROUNDS_MAX 10000000
#define S_ROUNDS_PER_CHECK 1000

//  The algorithm, fetched once: a fetch per hash costs more than the hash
//  (OpenSSL 3's SHA256() does one each call and is 4x slower). An EVP_MD
//  is immutable once fetched, so every executor thread may share it.
static pthread_once_t s_md_once = PTHREAD_ONCE_INIT;
static EVP_MD *s_md;

static void
s_md_fetch (void)
{
    s_md = EVP_MD_fetch (NULL, "SHA256", NULL);
}

//  Splits "rounds=N;text" into N and text. Returns 0 (rounds 1 and the
//  whole payload when there is no prefix), or -1 if the prefix is malformed.
static int
s_parse_rounds (const handler_input_t *input, uint32_t *rounds,
                const uint8_t **text, size_t *text_size)
{
    const size_t prefix = strlen (S_ROUNDS_PREFIX);
    *rounds = 1;
    *text = input->payload;
    *text_size = input->payload_size;
    if (input->payload_size < prefix || memcmp (input->payload, S_ROUNDS_PREFIX, prefix) != 0)
        return 0;
    const uint8_t *digits = input->payload + prefix;
    size_t room = input->payload_size - prefix;
    const uint8_t *semicolon = (const uint8_t *) memchr (digits, ';', room < 16 ? room : 16);
    if (!semicolon || semicolon == digits || !isdigit (digits [0]))
        return -1;
    char number [16];
    memcpy (number, digits, (size_t) (semicolon - digits));
    number [semicolon - digits] = 0;
    long long value;
    if (tm_parse_int (number, 1, S_ROUNDS_MAX, &value) != 0)
        return -1;
    *rounds = (uint32_t) value;
    *text = semicolon + 1;
    *text_size = input->payload_size - (size_t) (*text - input->payload);
    return 0;
}

static void
s_digest (EVP_MD_CTX *context, const void *data, size_t size, uint8_t *digest)
{
    int ok = EVP_DigestInit_ex2 (context, s_md, NULL)
          && EVP_DigestUpdate (context, data, size)
          && EVP_DigestFinal_ex (context, digest, NULL);
    //  Cannot fail for SHA-256 once the algorithm was fetched.
    assert (ok);
    (void) ok;
}

//  Hashes text, then its digest rounds-1 more times. Returns 0, or -1 if
//  the deadline passed first.
static int
s_hash_rounds (const handler_input_t *input, uint32_t rounds,
               const uint8_t *text, size_t text_size, uint8_t *digest)
{
    EVP_MD_CTX *context = EVP_MD_CTX_new ();
    assert (context);
    int rc = 0;
    s_digest (context, text, text_size, digest);
    for (uint32_t round = 1; round < rounds; round++) {
        if (round % S_ROUNDS_PER_CHECK == 0 && input->deadline_us > 0
        &&  tm_clock_now_us () >= input->deadline_us) {
            rc = -1;
            break;
        }
        s_digest (context, digest, 32, digest);
    }
    EVP_MD_CTX_free (context);
    return rc;
}

void
handler_sha256 (const handler_input_t *input, handler_output_t *output)
{
    uint32_t rounds;
    const uint8_t *text;
    size_t text_size;
    if (s_parse_rounds (input, &rounds, &text, &text_size) != 0) {
        handler_output_fail (output, TM_STATUS_FAILED,
                             "sha256: bad prefix: expected 'rounds=N;' with N from 1 to %d",
                             S_ROUNDS_MAX);
        return;
    }
    pthread_once (&s_md_once, s_md_fetch);
    if (!s_md) {
        handler_output_fail (output, TM_STATUS_FAILED, "sha256: OpenSSL has no SHA256");
        return;
    }
    int64_t start_us = tm_clock_now_us ();
    uint8_t digest [32];
    if (s_hash_rounds (input, rounds, text, text_size, digest) != 0) {
        uint32_t after_ms = input->timeout_ms
                          ? input->timeout_ms
                          : (uint32_t) ((tm_clock_now_us () - start_us) / 1000);
        handler_output_fail (output, TM_STATUS_TIMEOUT, "timed out after %u ms", after_ms);
        return;
    }
    static const char hex [] = "0123456789abcdef";
    char text_hex [64];
    for (size_t index = 0; index < sizeof (digest); index++) {
        text_hex [2 * index] = hex [digest [index] >> 4];
        text_hex [2 * index + 1] = hex [digest [index] & 0x0F];
    }
    handler_output_set (output, text_hex, sizeof (text_hex));
}
