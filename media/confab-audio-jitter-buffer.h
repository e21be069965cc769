/* confab-audio-jitter-buffer.h: one peer's Opus packets, as the network
 * delivers them (late, reordered, duplicated, lost), turned into one 20 ms
 * frame per playout tick: ordered by audio_metadata.sequence, with loss
 * concealed (FEC, else PLC) and a delay that follows a high percentile of
 * recent jitter: sustained jitter keeps it up, an isolated stall is
 * forgotten within seconds. The job NetEQ does in browsers; its
 * counters map onto HealthPacket's NetEqStats.
 *
 * Not thread-safe: push and pull on one thread (the audio worker). */
#pragma once

#include "confab-audio-decoder.h"

G_BEGIN_DECLS

/* Bounds (PROTOCOL.md §5 frames are 20 ms). */
#define CONFAB_AUDIO_JITTER_MIN_DELAY_MS 40  /* room for the next packet's FEC */
#define CONFAB_AUDIO_JITTER_MAX_DELAY_MS 500 /* beyond this a call is unusable anyway */

typedef enum
{
  CONFAB_AUDIO_PLAYOUT_NORMAL,  /* the packet that was due, decoded */
  CONFAB_AUDIO_PLAYOUT_FEC,     /* the due packet was lost; rebuilt from the next one's FEC */
  CONFAB_AUDIO_PLAYOUT_PLC,     /* the due packet was lost or is late; extrapolated */
  CONFAB_AUDIO_PLAYOUT_SILENCE, /* nothing to play: not started yet, or the peer paused */
} ConfabAudioPlayout;

typedef struct
{
  /* Now */
  double current_buffer_ms; /* audio waiting to be played (span from due to newest packet) */
  double target_delay_ms;   /* what the jitter estimate asks for */
  double jitter_ms; /* 95th percentile of arrival delay relative to the fastest packet, recent */
  guint packets_awaiting_decode;
  guint64 last_sequence; /* the last sequence played or concealed */

  /* Totals since creation (NetEq operation counters are their rates) */
  guint64 packets_received;
  guint64 normal_frames;
  guint64 fec_frames;
  guint64 plc_frames; /* expand */
  guint64 silence_frames;
  guint64 accelerate_count;        /* frames dropped to shrink the delay */
  guint64 preemptive_expand_count; /* frames inserted to grow the delay */
  guint64 late_packets;            /* arrived after their playout time; dropped */
  guint64 duplicate_packets;       /* dropped */
  guint64 invalid_packets;         /* empty, oversized or undecodable */
  guint64 resets;                  /* sequence jumps that restarted buffering */
  double concealed_ms;             /* (fec + plc) * 20 */
} ConfabAudioJitterStats;

typedef struct _ConfabAudioJitterBuffer ConfabAudioJitterBuffer;

ConfabAudioJitterBuffer *confab_audio_jitter_buffer_new (GError **error);
void confab_audio_jitter_buffer_free (ConfabAudioJitterBuffer *buffer);

/* One received Opus packet (copied; the caller's memory may go). @arrival_us
 * is the monotonic receive time. Returns FALSE when the packet was dropped
 * (late, duplicate, invalid). */
gboolean confab_audio_jitter_buffer_push (ConfabAudioJitterBuffer *buffer,
                                          guint64 sequence,
                                          const guint8 *packet,
                                          gsize len,
                                          gint64 arrival_us);

/* Called by the playout clock once per 20 ms; always writes
 * CONFAB_AUDIO_FRAME_SAMPLES samples to @pcm and says how they were made. */
ConfabAudioPlayout
confab_audio_jitter_buffer_pull (ConfabAudioJitterBuffer *buffer, gint64 now_us, gint16 *pcm);

void confab_audio_jitter_buffer_get_stats (ConfabAudioJitterBuffer *buffer,
                                           ConfabAudioJitterStats *stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabAudioJitterBuffer, confab_audio_jitter_buffer_free)

G_END_DECLS
