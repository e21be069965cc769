/* confab-video-jitter-buffer.h: one peer's encoded video frames, as the
 * network delivers them, released to the decoder in sequence order. A hole
 * waits briefly for a reordered frame, then counts as a loss: from there only
 * a key frame can be decoded, so deltas are dropped until one arrives and a
 * keyframe request becomes due (PROTOCOL.md §5: after 1 s, then at most every
 * 500 ms). Late frames are dropped rather than delaying later ones. Bounded.
 *
 * Not thread-safe: use it on the thread that receives (the call's). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CONFAB_VIDEO_JITTER_SLOTS           32 /* ~1 s at 30 fps */
#define CONFAB_VIDEO_JITTER_REORDER_WAIT_US (40 * 1000)
#define CONFAB_VIDEO_JITTER_REORDER_FRAMES                                                         \
  3 /* frames queued behind a hole before giving up on it */
#define CONFAB_VIDEO_KEYFRAME_REQUEST_AFTER_US    (1 * G_USEC_PER_SEC)
#define CONFAB_VIDEO_KEYFRAME_REQUEST_INTERVAL_US (500 * 1000)

typedef struct
{
  guint64 sequence;
  gboolean is_key;
  GBytes *data;        /* owned by whoever holds the struct */
  gint64 timestamp_us; /* the sender's capture time (MediaPacket.timestamp) */
  gint64 arrival_us;
} ConfabVideoJitterFrame;

typedef struct
{
  guint frames_buffered;
  gboolean waiting_for_keyframe;
  guint64 frames_received;
  guint64 frames_released;
  guint64 gaps;         /* holes given up on (frames lost) */
  guint64 dropped_late; /* arrived after their turn */
  guint64 dropped_duplicate;
  guint64 dropped_undecodable; /* deltas after a loss, before the next key frame */
  guint64 dropped_overflow;    /* pushed out by a bounded buffer */
  guint64 keyframe_requests;
} ConfabVideoJitterStats;

typedef struct _ConfabVideoJitterBuffer ConfabVideoJitterBuffer;

ConfabVideoJitterBuffer *confab_video_jitter_buffer_new (void);
void confab_video_jitter_buffer_free (ConfabVideoJitterBuffer *buffer);

/* One received frame; takes its own reference on @data. Returns FALSE when
 * it was dropped at once (empty, late, duplicate). */
gboolean confab_video_jitter_buffer_push (ConfabVideoJitterBuffer *buffer,
                                          guint64 sequence,
                                          gboolean is_key,
                                          GBytes *data,
                                          gint64 timestamp_us,
                                          gint64 arrival_us);

/* The next frame to decode, if one is ready at @now_us: fills @out (the
 * caller then owns out->data) and returns TRUE. Call until FALSE after each
 * push and when the deadline passes. Decode every frame released (deltas
 * need their predecessors) but show only the newest picture. */
gboolean confab_video_jitter_buffer_pop (ConfabVideoJitterBuffer *buffer,
                                         gint64 now_us,
                                         ConfabVideoJitterFrame *out);

/* When a held hole is given up on, so that pop() may release more: a time to
 * wake up at, or -1 when waiting cannot change anything. */
gint64 confab_video_jitter_buffer_get_deadline (ConfabVideoJitterBuffer *buffer);

/* The decoder refused a released frame: wait for the next key frame. */
void confab_video_jitter_buffer_decode_failed (ConfabVideoJitterBuffer *buffer, gint64 now_us);

gboolean confab_video_jitter_buffer_is_waiting_for_keyframe (ConfabVideoJitterBuffer *buffer);
/* TRUE when a keyframe request should go out now (and counts it as sent). */
gboolean confab_video_jitter_buffer_take_keyframe_request (ConfabVideoJitterBuffer *buffer,
                                                           gint64 now_us);

void confab_video_jitter_buffer_get_stats (ConfabVideoJitterBuffer *buffer,
                                           ConfabVideoJitterStats *stats);

void confab_video_jitter_frame_clear (ConfabVideoJitterFrame *frame);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabVideoJitterBuffer, confab_video_jitter_buffer_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ConfabVideoJitterFrame, confab_video_jitter_frame_clear)

G_END_DECLS
