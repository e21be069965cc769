/* confab-peer.h: one other session in the room as this client sees it: who it
 * is, what it says it sends (heartbeats), what actually arrived, and (when the
 * call receives media) its decoded pictures and buffered audio. */
#pragma once

#include "confab-audio-jitter-buffer.h"
#include "confab-video-encoder.h"
#include "confab-video-frame.h"
#include "confab-video-jitter-buffer.h"

#include <glib-object.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_PEER (confab_peer_get_type ())
G_DECLARE_FINAL_TYPE (ConfabPeer, confab_peer, CONFAB, PEER, GObject)

guint64 confab_peer_get_session_id (ConfabPeer *self);
/* The user id as text (upstream ids are UTF-8 e-mail-like strings); "" until known. */
const char *confab_peer_get_user_id (ConfabPeer *self);
/* From PARTICIPANT_JOINED; falls back to the user id. */
const char *confab_peer_get_display_name (ConfabPeer *self);
/* FALSE once it left or fell silent; its counters stay for summaries. */
gboolean confab_peer_is_present (ConfabPeer *self);
/* TRUE after "peer-left" when the session ended only because its user is
 * live on a newer session (path switch, reconnect, relay move): the person
 * did not leave, so say nothing like "X left". */
gboolean confab_peer_is_superseded (ConfabPeer *self);

guint64 confab_peer_get_video_frames (ConfabPeer *self);
guint64 confab_peer_get_video_keyframes (ConfabPeer *self);
guint64 confab_peer_get_video_gaps (ConfabPeer *self);
guint64 confab_peer_get_audio_packets (ConfabPeer *self);
guint64 confab_peer_get_heartbeats (ConfabPeer *self);
guint64 confab_peer_get_keyframe_requests_sent (ConfabPeer *self);

/* Video received over the last second, as last reported in DIAGNOSTICS
 * (0 before the first report). */
double confab_peer_get_last_video_fps (ConfabPeer *self);
double confab_peer_get_last_video_kbps (ConfabPeer *self);
/* Pictures decoded per second over the same window: the rate a viewer can
 * see (only key frames while the video is not wanted). */
double confab_peer_get_last_decoded_fps (ConfabPeer *self);

/* The last heartbeat's state. */
gboolean confab_peer_get_video_enabled (ConfabPeer *self);
gboolean confab_peer_get_audio_enabled (ConfabPeer *self);
gboolean confab_peer_get_is_speaking (ConfabPeer *self);
/* VP8 and VP9: always; the [confab] H.264: when its heartbeats advertise it. */
gboolean confab_peer_decodes (ConfabPeer *self, ConfabVideoCodec codec);
gboolean confab_peer_get_screen_enabled (ConfabPeer *self);
/* Whether any heartbeat ever said video / audio was on: then media should arrive. */
gboolean confab_peer_ever_video_enabled (ConfabPeer *self);
gboolean confab_peer_ever_audio_enabled (ConfabPeer *self);

/* Received media, once confab_call_set_receive_media() turned it on. */

/* The newest decoded picture not yet taken, or NULL; any thread may call it
 * (a renderer on its frame clock). Its pts_us is the sender's capture time
 * (MediaPacket.timestamp, epoch microseconds). (transfer full) */
ConfabVideoFrame *confab_peer_take_video_frame (ConfabPeer *self);
guint64 confab_peer_get_decoded_video_frames (ConfabPeer *self);
/* The last decoded picture's size (0 before one) and the pictures decoded
 * per second from the first to the last. */
void confab_peer_get_decoded_video_format (ConfabPeer *self, int *width, int *height, double *fps);
guint64 confab_peer_get_video_decode_errors (ConfabPeer *self);
/* Whether the pictures are shown (TRUE by default). Not wanted, the video
 * is still received, ordered and counted (DIAGNOSTICS say what arrives), but
 * only key frames are decoded (a thumbnail refreshes with each one) and the
 * deltas between are skipped without counting as loss or asking for key
 * frames. Wanted again after skipped deltas, a keyframe request is due at
 * once (PROTOCOL.md §5's 500 ms per peer still holds) and decoding resumes
 * from the key frame. ConfabCall sends the request:
 * confab_call_set_peer_video_wanted(). */
void confab_peer_set_video_wanted (ConfabPeer *self, gboolean wanted);
gboolean confab_peer_get_video_wanted (ConfabPeer *self);
/* Delta frames skipped because the video was not wanted (or until the key
 * frame after that). */
guint64 confab_peer_get_video_frames_unwanted (ConfabPeer *self);
/* Frames skipped because the decoding worker was behind (its queue full):
 * decoding resumed at the next key frame instead of adding delay. */
guint64 confab_peer_get_video_frames_behind (ConfabPeer *self);
/* Pictures decoded but replaced before anyone took them. */
guint64 confab_peer_get_video_frames_skipped (ConfabPeer *self);
/* FALSE when video is not received. */
gboolean confab_peer_get_video_jitter_stats (ConfabPeer *self, ConfabVideoJitterStats *stats);
/* The peer's audio, ordered and concealed: pull one 20 ms frame per playout
 * tick, on the call's thread. NULL when audio is not received. (transfer none) */
ConfabAudioJitterBuffer *confab_peer_get_audio_jitter_buffer (ConfabPeer *self);
/* One 20 ms frame of the peer's audio for the mixer (on the call's thread),
 * as confab_audio_jitter_buffer_pull() does, and the peer's audio playout
 * clock for lip sync: while it runs, decoded pictures reach
 * confab_peer_take_video_frame() in step with it (held while early, at most
 * 150 ms; dropped when late and a newer one waits). Without audio pulled,
 * pictures come as soon as decoded. Audio must be received. */
ConfabAudioPlayout confab_peer_pull_audio (ConfabPeer *self, gint64 now_us, gint16 *pcm);
/* Pictures held back for lip sync, and dropped as late. */
guint64 confab_peer_get_video_frames_held (ConfabPeer *self);
guint64 confab_peer_get_video_frames_dropped_late (ConfabPeer *self);
/* Capture-to-decode latency of the last 1024 pictures (the sender's
 * timestamps against our wall clock: exact on one machine). FALSE before
 * the first picture. */
gboolean confab_peer_get_video_latency (ConfabPeer *self, double *p50_ms, double *p95_ms);

G_END_DECLS
