/*  test_proto_schema: the wire schema has no recursive message. protobuf-c
    unpacks a nested message by recursion with no depth limit, so a message
    that can contain itself (directly or through others) would let a peer
    send a frame that nests until the stack overflows. Walks every message
    reachable from the four top-level frames through their message-typed
    fields and fails on a cycle, naming it.
*/
#include "taskmill.pb-c.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#define S_MAX_DEPTH 32

typedef struct {
    const ProtobufCMessageDescriptor *path [S_MAX_DEPTH];
    char cycle [1024];              //  the messages of the first cycle found
    size_t deepest;                 //  the deepest nesting seen
} s_walk_t;

//  Depth-first, with the path so far: a message met again on its own path
//  is a cycle. Returns whether one was found (named in walk->cycle).
static bool
s_find_cycle (s_walk_t *walk, const ProtobufCMessageDescriptor *message, size_t depth)
{
    for (size_t i = 0; i < depth; i++)
        if (walk->path [i] == message) {
            for (size_t j = i; j < depth; j++) {
                strncat (walk->cycle, walk->path [j]->name, sizeof walk->cycle - strlen (walk->cycle) - 1);
                strncat (walk->cycle, " -> ", sizeof walk->cycle - strlen (walk->cycle) - 1);
            }
            strncat (walk->cycle, message->name, sizeof walk->cycle - strlen (walk->cycle) - 1);
            return true;
        }
    if (depth == S_MAX_DEPTH)
        return true;
    walk->path [depth] = message;
    if (depth + 1 > walk->deepest)
        walk->deepest = depth + 1;
    for (unsigned i = 0; i < message->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &message->fields [i];
        if (field->type == PROTOBUF_C_TYPE_MESSAGE
        &&  s_find_cycle (walk, (const ProtobufCMessageDescriptor *) field->descriptor, depth + 1))
            return true;
    }
    return false;
}

static void
test_no_message_contains_itself (void **state)
{
    (void) state;
    const ProtobufCMessageDescriptor *roots [] = {
        &taskmill__task_batch__descriptor, &taskmill__result_batch__descriptor,
        &taskmill__master_to_worker__descriptor, &taskmill__worker_to_master__descriptor,
        &taskmill__control_message__descriptor, &taskmill__credit__descriptor,
        &taskmill__heartbeat__descriptor, &taskmill__control__descriptor,
    };
    for (size_t i = 0; i < sizeof roots / sizeof roots [0]; i++) {
        s_walk_t walk = { .deepest = 0 };
        if (s_find_cycle (&walk, roots [i], 0))
            fail_msg ("recursive message in the wire schema: %s", walk.cycle);
        //  Today's deepest nesting is a wrapper of a batch of tasks or
        //  results: a few levels. Far more is worth a look even without a
        //  cycle.
        assert_true (walk.deepest <= 4);
    }
}

//  The walk itself: a message whose field is that message, by hand, since
//  the schema has none.
static void
test_the_walk_sees_a_cycle (void **state)
{
    (void) state;
    ProtobufCFieldDescriptor field = { .name = "again", .type = PROTOBUF_C_TYPE_MESSAGE };
    ProtobufCMessageDescriptor looped = { .name = "Looped", .n_fields = 1, .fields = &field };
    field.descriptor = &looped;
    s_walk_t walk = { .deepest = 0 };
    assert_true (s_find_cycle (&walk, &looped, 0));
    assert_string_equal (walk.cycle, "Looped -> Looped");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_no_message_contains_itself),
        cmocka_unit_test (test_the_walk_sees_a_cycle),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
