/* confab-decode-pool.h: decodes peers' video on worker threads, off the
 * context that receives it. Each peer has a stream: a short queue of frames
 * ready to decode and its own decoder. A stream is decoded by one worker at a
 * time, in order; different streams in parallel. Results go back to the
 * receiving context with one wake-up per batch. */
#pragma once

#include "confab-video-encoder.h"
#include "confab-video-frame.h"

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ConfabDecodePool ConfabDecodePool;
typedef struct _ConfabDecodeStream ConfabDecodeStream;

/* A worker is behind on a stream when the oldest frame waiting for it was
 * handed over this long ago, or when this many wait: it skips to the next
 * key frame instead of adding delay. Time, not only a count: after the
 * receiving context stalled, a burst of frames handed over at once is no
 * sign of a slow worker. */
#define CONFAB_DECODE_MAX_WAIT_US (200 * 1000)
#define CONFAB_DECODE_QUEUE       16

/* Runs on @context for each stream's owner with new results. */
typedef void (*ConfabDecodeReadyFunc) (gpointer owner, gpointer user_data);

ConfabDecodePool *confab_decode_pool_new (guint threads,
                                          GMainContext *context,
                                          ConfabDecodeReadyFunc func,
                                          gpointer user_data);
/* Stops the workers (waits for a decode in flight) and drops queued work;
 * the ready callback never runs again. Streams stay valid but decode
 * nothing more. Call on the pool's context. */
void confab_decode_pool_shutdown (ConfabDecodePool *pool);
void confab_decode_pool_unref (ConfabDecodePool *pool);
guint confab_decode_pool_get_threads (ConfabDecodePool *pool);

/* A stream for @owner (borrowed: confab_decode_stream_close() before it goes). */
ConfabDecodeStream *confab_decode_stream_new (ConfabDecodePool *pool, gpointer owner);
/* The owner is gone: queued frames and results are dropped, the callback
 * no longer names it, and the reference is released (a decode in flight
 * finishes on its worker and its picture is dropped). */
void confab_decode_stream_close (ConfabDecodeStream *stream);

/* Queues one frame (a new reference to @data). When the worker is behind
 * (CONFAB_DECODE_MAX_WAIT_US, CONFAB_DECODE_QUEUE) the frames waiting are dropped (*dropped says
 * how many) and a delta frame is not queued (FALSE), a key frame is. */
gboolean confab_decode_stream_submit (ConfabDecodeStream *stream,
                                      ConfabVideoCodec codec,
                                      gboolean is_key,
                                      guint64 sequence,
                                      GBytes *data,
                                      gint64 timestamp_us,
                                      guint *dropped);

typedef enum
{
  CONFAB_DECODE_PICTURE,    /* picture set */
  CONFAB_DECODE_NO_PICTURE, /* decoded, nothing to show yet */
  CONFAB_DECODE_FAILED,     /* the decoder refused the frame */
  CONFAB_DECODE_NO_DECODER, /* a codec we cannot decode */
} ConfabDecodeOutcome;

typedef struct
{
  ConfabDecodeOutcome outcome;
  ConfabVideoFrame *picture; /* owned by the result */
  gint64 decoded_us;         /* monotonic, when the decode finished */
  gint64 latency_us;         /* capture to decoded (sender's clock), or G_MININT64 */
} ConfabDecodeResult;

/* The oldest result not yet taken; FALSE when none. On the pool's context. */
gboolean confab_decode_stream_pop (ConfabDecodeStream *stream, ConfabDecodeResult *result);
/* Pictures decoded but dropped because results piled up unread (the
 * receiving context stalled); counts only go up. */
guint64 confab_decode_stream_get_results_dropped (ConfabDecodeStream *stream);

G_END_DECLS
