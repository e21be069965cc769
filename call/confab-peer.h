/* confab-peer.h: one other session in the room as this client sees it: who it
 * is, what it says it sends (heartbeats), and what actually arrived. */
#pragma once

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

guint64 confab_peer_get_video_frames (ConfabPeer *self);
guint64 confab_peer_get_video_keyframes (ConfabPeer *self);
guint64 confab_peer_get_video_gaps (ConfabPeer *self);
guint64 confab_peer_get_audio_packets (ConfabPeer *self);
guint64 confab_peer_get_heartbeats (ConfabPeer *self);
guint64 confab_peer_get_keyframe_requests_sent (ConfabPeer *self);

/* The last heartbeat's state. */
gboolean confab_peer_get_video_enabled (ConfabPeer *self);
gboolean confab_peer_get_audio_enabled (ConfabPeer *self);
/* Whether any heartbeat ever said video / audio was on: then media should arrive. */
gboolean confab_peer_ever_video_enabled (ConfabPeer *self);
gboolean confab_peer_ever_audio_enabled (ConfabPeer *self);

G_END_DECLS
