/* confab-call.h: this client's side of one call over one ConfabTransport:
 * session id, RTT probes, heartbeats, sending encoded media, and the peers and
 * their media as they arrive. GTK-free; the CLI uses it now, the app later. */
#pragma once

#include "confab-peer.h"
#include "confab-transport.h"
#include "confab-video-encoder.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_CALL (confab_call_get_type ())
G_DECLARE_FINAL_TYPE (ConfabCall, confab_call, CONFAB, CALL, GObject)

/* @user_id is what this client puts in every PacketWrapper and MediaPacket.
 * Signals are emitted on the thread-default main context of the caller. */
ConfabCall *confab_call_new (ConfabTransport *transport, const char *user_id);

/* Opens the transport; "session-assigned" follows, or "closed" with an error.
 * "session-assigned" comes again with a new id when the transport moves the
 * call to another path or reconnects (ConfabElection); it is the same call. */
void confab_call_start (ConfabCall *self);
/* Closes the transport politely; "closed" follows with a NULL error. */
void confab_call_leave (ConfabCall *self);

ConfabTransport *confab_call_get_transport (ConfabCall *self);
const char *confab_call_get_user_id (ConfabCall *self);
/* 0 until SESSION_ASSIGNED. */
guint64 confab_call_get_session_id (ConfabCall *self);
/* Mean of the last 10 RTT samples in ms, or -1 before the first echo. */
double confab_call_get_rtt_ms (ConfabCall *self);

/* What our heartbeats announce; a change sends one at once. */
void confab_call_set_media_state (ConfabCall *self, gboolean video_enabled, gboolean audio_enabled);
/* Voice activity of our microphone (HeartbeatMetadata.is_speaking); a change
 * sends a heartbeat at once. Announced as FALSE while audio is disabled. */
void confab_call_set_speaking (ConfabCall *self, gboolean is_speaking);
gboolean confab_call_get_speaking (ConfabCall *self);

/* One whole encoded camera frame; numbered +1 per call. FALSE when not sent
 * (not in a session yet, or the transport's queue is full). */
gboolean
confab_call_send_video (ConfabCall *self, ConfabVideoCodec codec, const ConfabEncodedFrame *frame);
/* One 20 ms Opus packet (48 kHz mono). */
gboolean confab_call_send_audio (ConfabCall *self, const guint8 *opus, gsize len);

/* [confab] Sends @text to everyone in the room as a chat message
 * (docs/protocol-extensions.md) signed with @display_name (NULL: the user id).
 * Returns the message's id and sets @timestamp_ms to its send time, or NULL
 * with CONFAB_CHAT_ERROR (text not allowed) or G_IO_ERROR (not in a session,
 * queue full). The relay does not echo it back: show it yourself.
 * Received messages come as "chat-message" (ConfabPeer *peer, char *id,
 * char *display_name, char *text, guint64 timestamp_ms), already validated. */
char *confab_call_send_chat (ConfabCall *self,
                             const char *text,
                             const char *display_name,
                             guint64 *timestamp_ms,
                             GError **error);

/* Receive media: with @decode_video every peer gets a video jitter buffer and
 * decoder, and "video-frame" (peer) says a new picture is waiting in
 * confab_peer_take_video_frame(); with @buffer_audio every peer gets an audio
 * jitter buffer (confab_peer_get_audio_jitter_buffer()). Off by default:
 * "media" alone hands out the encoded payloads. */
void confab_call_set_receive_media (ConfabCall *self, gboolean decode_video, gboolean buffer_audio);

/* Decode peers' video on @threads worker threads instead of on the call's
 * context (0, the default: inline). Packets are still received, ordered and
 * gap-checked on the call's context; a peer's frames are decoded in order by
 * one worker at a time, different peers in parallel. A worker behind on a
 * peer (its oldest waiting frame 200 ms old) skips to the next key frame
 * (and one is requested; confab_peer_get_video_frames_behind() counts
 * them). "video-frame" and every counter stay on the call's context; the
 * pictures reach confab_peer_take_video_frame() as before. Changing it
 * mid-call resumes each peer at its next key frame. */
void confab_call_set_decode_threads (ConfabCall *self, guint threads);
guint confab_call_get_decode_threads (ConfabCall *self);

/* Whether @session_id's pictures are shown somewhere (TRUE for every peer
 * by default). Not wanted, the peer's video is still received but only its
 * key frames are decoded; wanted again, a keyframe request goes out at once
 * (within PROTOCOL.md §5's 500 ms per peer) and full-rate decoding resumes
 * from that key frame. See confab_peer_set_video_wanted(). */
void confab_call_set_peer_video_wanted (ConfabCall *self, guint64 session_id, gboolean wanted);

/* TRUE when every present peer decodes @codec: VP8 and VP9 always, the
 * [confab] H.264 only when its heartbeats advertise it. */
gboolean confab_call_peers_decode (ConfabCall *self, ConfabVideoCodec codec);

/* [confab] Heartbeats list the video codecs we decode (HeartbeatMetadata.decodes,
 * docs/protocol-extensions.md) while video is received; FALSE leaves the list
 * out, as upstream clients do. */
void confab_call_set_advertise_codecs (ConfabCall *self, gboolean advertise);

/* The room, for HEALTH reports (HealthPacket.meeting_id). */
void confab_call_set_meeting_id (ConfabCall *self, const char *meeting_id);

/* Besides the signals above: "diagnostics" (peer, media type, fps, kbps) when
 * a receiver reports how our media reaches it, and "congestion" when the
 * relay drops our packets for a slow receiver; ConfabMediaSender adapts to
 * both. The call itself reports every peer's reception every 500 ms
 * (DIAGNOSTICS) and sends HEALTH every 5 s. */

guint64 confab_call_get_sent_video_frames (ConfabCall *self);
guint64 confab_call_get_sent_audio_packets (ConfabCall *self);

/* Every peer seen in this call, present or not, in order of appearance.
 * (transfer none) */
GPtrArray *confab_call_get_peers (ConfabCall *self);
ConfabPeer *confab_call_lookup_peer (ConfabCall *self, guint64 session_id);

G_END_DECLS
