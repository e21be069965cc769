/* confab-chat-panel.h: the in-call chat side panel: this call's messages,
 * oldest first, and an entry that sends on Enter. It knows nothing of the
 * call: the window hands it messages and sends what it asks to send. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_CHAT_PANEL (confab_chat_panel_get_type ())
G_DECLARE_FINAL_TYPE (ConfabChatPanel, confab_chat_panel, CONFAB, CHAT_PANEL, GtkBox)

/* Signals:
 *   "send" (char *text) → gboolean: the user pressed Enter or Send with this
 *     text; a handler returns TRUE when it was sent (the entry is then
 *     cleared and the message shown as ours) or FALSE after calling
 *     confab_chat_panel_show_error(). */

GtkWidget *confab_chat_panel_new (void);

/* One message; @own for ours (shown as "You"). @time is when it arrived or
 * was sent (NULL: now). */
void confab_chat_panel_add_message (
    ConfabChatPanel *self, const char *name, const char *text, gboolean own, GDateTime *time);
/* Why the last message could not be sent, under the entry (NULL hides it). */
void confab_chat_panel_show_error (ConfabChatPanel *self, const char *message);
/* A new call starts with no history. */
void confab_chat_panel_clear (ConfabChatPanel *self);
guint confab_chat_panel_get_n_messages (ConfabChatPanel *self);
/* Keyboard focus to the entry (the panel was just opened). */
void confab_chat_panel_focus_entry (ConfabChatPanel *self);

G_END_DECLS
