/* confab-call-session.h: the one object the UI talks to about a call. It turns
 * an invite into a ConfabCall over a ConfabElection (reading /config.js when
 * the link needs it) and reports what the widgets show: joined, participants
 * coming and going, failure. Widgets never touch ConfabCall themselves. */
#pragma once

#include "confab-invite.h"

#include <gio/gio.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_CALL_SESSION (confab_call_session_get_type ())
G_DECLARE_FINAL_TYPE (ConfabCallSession, confab_call_session, CONFAB, CALL_SESSION, GObject)

/* Signals:
 *   "joined"              ()                           the relay gave us a session
 *   "participant-added"   (guint64 session, char *name) someone is in the room
 *   "participant-removed" (guint64 session)            they left
 *   "ended"               (GError *error)              NULL when we left; else why it failed */

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

/* What our heartbeats announce (no capture yet: issue 5 follow-up). */
void confab_call_session_set_microphone (ConfabCallSession *self, gboolean on);
void confab_call_session_set_camera (ConfabCallSession *self, gboolean on);
gboolean confab_call_session_get_microphone (ConfabCallSession *self);
gboolean confab_call_session_get_camera (ConfabCallSession *self);

G_END_DECLS
