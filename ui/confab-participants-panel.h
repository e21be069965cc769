/* confab-participants-panel.h: the in-call side panel listing who is in the
 * room, us first, with each one's microphone and camera state as their
 * heartbeats announce it. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_PARTICIPANTS_PANEL (confab_participants_panel_get_type ())
G_DECLARE_FINAL_TYPE (
    ConfabParticipantsPanel, confab_participants_panel, CONFAB, PARTICIPANTS_PANEL, GtkBox)

GtkWidget *confab_participants_panel_new (void);

/* Session id 0 is us. Adding a session that is there only renames it. */
void
confab_participants_panel_add (ConfabParticipantsPanel *self, guint64 session_id, const char *name);
void confab_participants_panel_remove (ConfabParticipantsPanel *self, guint64 session_id);
void confab_participants_panel_set_state (ConfabParticipantsPanel *self,
                                          guint64 session_id,
                                          gboolean microphone_on,
                                          gboolean camera_on);
/* The name shown for @session_id, or NULL. */
const char *confab_participants_panel_get_name (ConfabParticipantsPanel *self, guint64 session_id);
/* Everyone but us goes (a new call). */
void confab_participants_panel_clear (ConfabParticipantsPanel *self);
/* Everyone, us included. */
guint confab_participants_panel_get_n_participants (ConfabParticipantsPanel *self);

G_END_DECLS
