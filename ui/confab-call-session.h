/* confab-call-session.h: the one object the UI talks to about a call. It turns
 * an invite into a ConfabCall over a ConfabElection (reading /config.js when
 * the link needs it) and reports what the widgets show: joined, participants
 * coming and going, failure. Widgets never touch ConfabCall themselves. */
#pragma once

#include "confab-invite.h"
#include "confab-video-encoder.h"
#include "confab-video-frame.h"

#include <gio/gio.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_CALL_SESSION (confab_call_session_get_type ())
G_DECLARE_FINAL_TYPE (ConfabCallSession, confab_call_session, CONFAB, CALL_SESSION, GObject)

/* Signals:
 *   "joined"              ()                           the relay gave us a session
 *   "participant-added"   (guint64 session, char *name) someone is in the room
 *   "participant-removed" (guint64 session, gboolean replaced) they left, or (replaced)
 *                                                      moved to a newer session
 *   "ended"               (GError *error)              NULL when we left; else why it failed
 *   "participant-changed" (guint64 session)            its heartbeat state (media, speaking) or
 *                                                      link quality changed
 *   "camera-frame"        (ConfabVideoFrame *frame)    our camera's newest picture (self-view)
 *   "chat-message"        (guint64 session, char *name, char *text)
 *                                                      [confab] chat from someone in the room
 *   "reconnecting"        ()                           the connection was lost; retrying
 *   "reconnected"         ()                           a connection carries the call again
 *   "camera-changed"      ()                           camera or microphone toggled, we started
 *                                                      or stopped speaking, the camera
 *                                                      failed or went away (see
 *                                                      confab_call_session_get_camera_problem())
 *   "microphone-problem"  (char *message)              the microphone could not be opened or
 *                                                      went away: we send no sound
 *
 * In the call the session captures the camera and the microphone (the
 * GSettings preferred-camera / preferred-microphone, else the defaults) and
 * receives and decodes everyone's video; a missing or vanished device never
 * ends the call. */

/* @invite is copied from; @display_name is normalized into the user id. */
ConfabCallSession *confab_call_session_new (const ConfabInvite *invite,
                                            const char *display_name,
                                            gboolean microphone_on,
                                            gboolean camera_on,
                                            GError **error);
void confab_call_session_start (ConfabCallSession *self);
void confab_call_session_leave (ConfabCallSession *self);

const char *confab_call_session_get_room (ConfabCallSession *self);
const char *confab_call_session_get_user_id (ConfabCallSession *self);

/* Camera off / microphone muted: what our heartbeats announce, and what is
 * captured and sent. */
void confab_call_session_set_microphone (ConfabCallSession *self, gboolean on);
void confab_call_session_set_camera (ConfabCallSession *self, gboolean on);
gboolean confab_call_session_get_microphone (ConfabCallSession *self);
gboolean confab_call_session_get_camera (ConfabCallSession *self);

/* [confab] chat: @text to everyone in the room, signed @display_name (NULL:
 * the user id). FALSE with CONFAB_CHAT_ERROR (text not allowed) or G_IO_ERROR
 * (not connected). The relay does not echo it: the caller shows it. */
gboolean confab_call_session_send_chat (ConfabCallSession *self,
                                        const char *text,
                                        const char *display_name,
                                        GError **error);

/* The call once started, else NULL: for read-only statistics (the diagnostics
 * popover). (transfer none) */
struct _ConfabCall *confab_call_session_get_call (ConfabCallSession *self);

/* How well a participant's media is arriving. */
typedef enum
{
  CONFAB_LINK_QUALITY_UNKNOWN,
  CONFAB_LINK_QUALITY_GOOD,
  CONFAB_LINK_QUALITY_FAIR,
  CONFAB_LINK_QUALITY_POOR,
  CONFAB_LINK_QUALITY_LOST,
} ConfabLinkQuality;

/* The newest decoded picture of @session_id not yet taken, or NULL; cheap
 * (a renderer calls it on its frame clock). (transfer full) */
ConfabVideoFrame *confab_call_session_take_video_frame (ConfabCallSession *self,
                                                        guint64 session_id);
/* What @session_id's heartbeats say and how its media arrives; FALSE when
 * there is no such participant. */
gboolean confab_call_session_get_participant (ConfabCallSession *self,
                                              guint64 session_id,
                                              gboolean *video_enabled,
                                              gboolean *audio_enabled,
                                              ConfabLinkQuality *quality);
/* Voice activity: ours (our microphone, also sent in heartbeats) and a
 * participant's (their heartbeats' is_speaking). */
gboolean confab_call_session_get_speaking (ConfabCallSession *self);
gboolean confab_call_session_get_participant_speaking (ConfabCallSession *self, guint64 session_id);
/* Whether @session_id's pictures are on screen somewhere (the grid says,
 * with a little hysteresis); not wanted, only its key frames are decoded
 * (confab_call_set_peer_video_wanted()). Follows the person to a newer
 * session. */
void
confab_call_session_set_video_wanted (ConfabCallSession *self, guint64 session_id, gboolean wanted);
/* Participants are known by the first session we saw of them (the ids in
 * the signals above); a person who moved to a newer session (transport
 * switch, reconnect) stays one participant. TRUE when the call's peer
 * @session_id carries a participant now: sets its @participant_id and
 * whether its video is wanted. FALSE for an older session of someone who
 * moved, or someone not announced yet. */
gboolean confab_call_session_lookup_session (ConfabCallSession *self,
                                             guint64 session_id,
                                             guint64 *participant_id,
                                             gboolean *video_wanted);
/* The tier our camera is sent at now (the box pictures are fitted into,
 * frame rate, bitrate) and the codec; FALSE outside a call. */
gboolean confab_call_session_get_send_format (ConfabCallSession *self,
                                              int *width,
                                              int *height,
                                              int *fps,
                                              guint *bitrate_kbps,
                                              ConfabVideoCodec *codec);
/* Why our camera shows nothing (no camera, it went away), or NULL while it
 * works or is off. */
const char *confab_call_session_get_camera_problem (ConfabCallSession *self);

G_END_DECLS
