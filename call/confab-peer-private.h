/* confab-peer-private.h: how ConfabCall feeds a ConfabPeer. Kept apart from the
 * public header so tests can drive the per-peer rules (gaps, keyframe-request
 * pacing, silence) without a network. All times are monotonic microseconds. */
#pragma once

#include "confab-decode-pool.h"
#include "confab-peer.h"
#include "confab-video-encoder.h"

G_BEGIN_DECLS

/* PROTOCOL.md §5 */
#define CONFAB_KEYFRAME_REQUEST_AFTER_US    (1 * G_USEC_PER_SEC)
#define CONFAB_KEYFRAME_REQUEST_INTERVAL_US (500 * 1000)
#define CONFAB_PEER_SILENCE_TIMEOUT_US      (15 * G_USEC_PER_SEC)
/* A session of a user who is already back on a newer, live session (the
 * relay announces no LEFT for a path switch or a move): gone after this much
 * silence instead of the full timeout, so no stale tile lingers. */
#define CONFAB_PEER_SUPERSEDED_SILENCE_US (2 * G_USEC_PER_SEC)

ConfabPeer *confab_peer_new (guint64 session_id, gint64 now_us);

/* Returns TRUE when the id changed. */
gboolean confab_peer_set_user_id (ConfabPeer *self, const guint8 *user_id, gsize len);
void confab_peer_set_display_name (ConfabPeer *self, const guint8 *name, gsize len);
void confab_peer_set_present (ConfabPeer *self, gboolean present);
void confab_peer_set_superseded (ConfabPeer *self);

/* Any packet from the peer. */
void confab_peer_touch (ConfabPeer *self, gint64 now_us);
gboolean confab_peer_is_silent (ConfabPeer *self, gint64 now_us);
/* Monotonic time of the last packet from this session. */
gint64 confab_peer_get_last_packet_us (ConfabPeer *self);

/* A video frame with sequence @sequence (@has_sequence FALSE when the sender
 * sent no video_metadata). Counts gaps: a jump forward means frames were lost
 * and the picture stays broken until a key frame. */
void confab_peer_on_video (
    ConfabPeer *self, gboolean has_sequence, guint64 sequence, gboolean is_key, gint64 now_us);
void confab_peer_on_audio (ConfabPeer *self);
/* [confab] From the peer's last heartbeat's codec advertisement. */
void confab_peer_set_decodes_h264 (ConfabPeer *self, gboolean decodes);
/* Payload bytes of a received VIDEO (@video) or AUDIO packet. */
void confab_peer_count_bytes (ConfabPeer *self, gboolean video, gsize len, gint64 now_us);

typedef struct
{
  gint64 at_us;
  guint64 video_frames;
  guint64 video_bytes;
  guint64 audio_packets;
  guint64 audio_bytes;
  guint64 video_decoded;
} ConfabPeerRateSample;

typedef struct
{
  gboolean have_video; /* video arrived since before the window began */
  double video_fps;
  double video_kbps;
  gboolean have_audio;
  double audio_fps;
  double audio_kbps;
} ConfabPeerRates;

/* What arrived over the last ~1 s; call every 500 ms (DIAGNOSTICS). */
void confab_peer_sample_rates (ConfabPeer *self, gint64 now_us, ConfabPeerRates *rates);
void confab_peer_on_heartbeat (ConfabPeer *self,
                               gboolean video_enabled,
                               gboolean audio_enabled,
                               gboolean screen_enabled,
                               gboolean is_speaking);

/* TRUE when a keyframe request is due now: a gap is still unrepaired by a key
 * frame after CONFAB_KEYFRAME_REQUEST_AFTER_US, and the last request to this
 * peer is at least CONFAB_KEYFRAME_REQUEST_INTERVAL_US old. A TRUE answer
 * counts as a request sent. */
gboolean confab_peer_take_keyframe_request (ConfabPeer *self, gint64 now_us);
/* TRUE while the peer's video is broken by a gap. */
gboolean confab_peer_is_waiting_for_keyframe (ConfabPeer *self);

/* Receiving media. With video on, a jitter buffer and a decoder take over the
 * gap rules above: a gap counts once a reordered frame had its chance, a
 * frame the decoder refuses counts too, and keyframe requests follow the
 * jitter buffer (same PROTOCOL.md §5 timing). */
void confab_peer_set_receive_media (ConfabPeer *self, gboolean video, gboolean audio);
/* One received video frame (copied). TRUE when a new picture is ready. */
gboolean confab_peer_receive_video (ConfabPeer *self,
                                    ConfabVideoCodec codec,
                                    guint64 sequence,
                                    gboolean is_key,
                                    const guint8 *data,
                                    gsize len,
                                    gint64 timestamp_us,
                                    gint64 now_us);
/* Decodes what the jitter buffer releases at @now_us (after its deadline).
 * TRUE when a new picture is ready. */
gboolean confab_peer_service_video (ConfabPeer *self, gint64 now_us);
/* Decode on @pool's workers instead of in confab_peer_service_video()
 * (NULL: inline again). Video must be received; a decoder replaced
 * mid-stream resumes at the next key frame. confab_peer_service_video()
 * then hands frames over, and the pool's callback calls
 * confab_peer_collect_decoded() on the call's context. */
void confab_peer_set_decode_pool (ConfabPeer *self, ConfabDecodePool *pool);
/* Takes what the worker decoded: counts, lip sync and the slot as the
 * inline path does. TRUE when a new picture is ready. */
gboolean confab_peer_collect_decoded (ConfabPeer *self, gint64 now_us);
/* When confab_peer_service_video() may release more, or -1. */
gint64 confab_peer_get_video_deadline (ConfabPeer *self);
/* @timestamp_ms: the sender's MediaPacket.timestamp (epoch ms), the audio's
 * capture time for lip sync. */
void confab_peer_receive_audio (ConfabPeer *self,
                                guint64 sequence,
                                const guint8 *data,
                                gsize len,
                                gint64 timestamp_ms,
                                gint64 now_us);

G_END_DECLS
