/*  tm_limits: the protocol's sizes, in one place, for both sides of the
    wire. The codec enforces them on decode; the master and workers size
    their batches, queues and buffers from them, so no limit silently
    depends on another file's constant. Plain C: no czmq, no protobuf.
*/
#ifndef TM_LIMITS_H_INCLUDED
#define TM_LIMITS_H_INCLUDED

#define TM_PROTOCOL_VERSION 1
#define TM_MAX_FRAME_BYTES (64 * 1024 * 1024)   //  ZMQ_MAXMSGSIZE where tasks and results go
//  ZMQ_MAXMSGSIZE of the sockets that take only small frames: a frame over
//  it drops the connection (so an encoder of ours must stay under it).
#define TM_MAX_CREDIT_FRAME_BYTES 4096          //  a Credit, into the master's tasks ROUTER
#define TM_MAX_CONTROL_FRAME_BYTES 65536        //  a ControlMessage, into a worker's SUB
#define TM_MAX_ADMIN_REQUEST_BYTES 4096         //  a JSON request, into the admin ROUTER
#define TM_MAX_SUBSCRIPTION_BYTES 1024          //  into the control XPUB (ours is one byte)
#define TM_MAX_PUSH_INBOUND_BYTES 4096          //  into a results PUSH, which reads nothing
//  (The handshake's commands count too: a CURVE INITIATE is under 1 KiB,
//  which is why none but the subscriptions' is under 4096. Subscriptions
//  are 1 KiB at most because libzmq keeps each in a trie of ~30 bytes a
//  byte: master/control.h.)
//  A batch (tasks or results) holds at most this many items, and a frame
//  more than one item only while its payloads stay under TM_MAX_BATCH_BYTES,
//  so no frame of ours nears TM_MAX_FRAME_BYTES. A worker's queue holds at
//  least TM_MAX_BATCH_TASKS, so any batch the decoder accepts fits in it.
#define TM_MAX_BATCH_TASKS 256
#define TM_MAX_BATCH_BYTES (16 * 1024 * 1024)
//  One task's payload, or one result's output: a frame holding just it
//  (and its strings) stays under TM_MAX_FRAME_BYTES.
#define TM_FRAME_OVERHEAD_BYTES (1024 * 1024)  //  room in a frame for what is not payload
#define TM_MAX_PAYLOAD_BYTES (TM_MAX_FRAME_BYTES - TM_FRAME_OVERHEAD_BYTES)
//  --max-frame (master and worker) lowers TM_MAX_FRAME_BYTES to as little as
//  this. A batch then holds at most a quarter of the frame in payloads or
//  outputs (TM_BATCH_BYTES): 256 items' strings (ids, errors) fit in the
//  rest. A payload or output of its own must stay under the frame less
//  TM_FRAME_OVERHEAD_BYTES (--max-payload, --max-output check it).
#define TM_MIN_FRAME_BYTES (4 * 1024 * 1024)
#define TM_BATCH_BYTES(frame_bytes) \
    ((frame_bytes) / 4 < TM_MAX_BATCH_BYTES ? (size_t) (frame_bytes) / 4 : (size_t) TM_MAX_BATCH_BYTES)
#define TM_MAX_JOB_ID_BYTES 64
#define TM_MAX_ID_BYTES 1024
#define TM_MAX_TYPE_BYTES 64
#define TM_MAX_WORKER_ID_BYTES 256
#define TM_MAX_INCARNATION_BYTES 64             //  a routing id (ZeroMQ allows 255)
#define TM_MIN_INCARNATION_BYTES 8
#define TM_MAX_ERROR_BYTES 4096
#define TM_MAX_THREADS 4096                     //  executor threads a worker may claim
#define TM_MAX_CREDIT 1048576                   //  tasks a worker may ask to hold
#define TM_MAX_HELD_SEQS TM_MAX_CREDIT          //  seqs one heartbeat may list

#endif
