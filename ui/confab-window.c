/* confab-window.c: the main window's pages and actions. The call itself is a
 * ConfabCallSession; the window only shows what it reports. */
#define G_LOG_DOMAIN "confab-window"

#include "confab-window.h"

#include "confab-call-session.h"
#include "confab-chat-panel.h"
#include "confab-chat.h"
#include "confab-diagnostics.h"
#include "confab-invite.h"
#include "confab-participants-panel.h"
#include "confab-preferences.h"
#include "confab-rooms.h"
#include "confab-transport.h"
#include "confab-prejoin.h"
#include "confab-video-grid.h"

#include <glib/gi18n.h>

#define CONFAB_SETTINGS_SCHEMA "io.github.confab.Confab"

struct _ConfabWindow
{
  AdwApplicationWindow parent_instance;

  /* Template widgets */
  AdwWindowTitle *window_title;
  AdwToastOverlay *toast_overlay;
  GtkStack *stack;
  GtkEntry *link_entry;
  GtkLabel *start_error_label;
  GtkButton *start_join_button;
  AdwStatusPage *prejoin_page;
  AdwClamp *prejoin_clamp;
  GtkBox *prejoin_box;
  AdwEntryRow *name_row;
  GtkLabel *prejoin_error_label;
  GtkStack *grid_stack;
  AdwStatusPage *waiting_page;
  ConfabVideoGrid *video_grid;
  GtkFlowBox *controls_box;
  GtkToggleButton *microphone_button;
  GtkToggleButton *camera_button;
  GtkButton *share_screen_button;
  GtkToggleButton *participants_button;
  GtkToggleButton *chat_button;
  GtkLabel *chat_badge;
  AdwFlap *side_flap;
  GtkStack *panel_stack;
  ConfabChatPanel *chat_panel;
  ConfabParticipantsPanel *participants_panel;
  GtkMenuButton *diagnostics_button;
  ConfabDiagnostics *diagnostics;
  AdwPreferencesGroup *recent_group;
  GtkListBox *recent_list;

  /* Owned */
  GSettings *settings;
  ConfabInvite *invite; /* the pre-join page's */
  char *link;           /* what opened the pre-join page: kept in recent rooms */
  ConfabCallSession *session;
  guint clock_timer;
  AdwToast *reconnect_toast; /* weak */

  gboolean microphone_on;
  gboolean camera_on;
  gboolean chat_open;
  gboolean participants_open;
  /* Always FALSE until screen sharing lands; Leave asks first while TRUE. */
  gboolean presenting;
  gboolean joined; /* this session got SESSION_ASSIGNED at least once */
  gint64 call_start_us;
  guint unread;
};

G_DEFINE_FINAL_TYPE (ConfabWindow, confab_window, ADW_TYPE_APPLICATION_WINDOW)

enum
{
  PROP_0,
  PROP_MICROPHONE_ON,
  PROP_CAMERA_ON,
  PROP_CHAT_OPEN,
  PROP_PARTICIPANTS_OPEN,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
show_error (GtkLabel *label, const char *message)
{
  gtk_label_set_text (label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (label), message != NULL);
}

static AdwToast *
show_toast (ConfabWindow *self, const char *message, guint timeout_s, AdwToastPriority priority)
{
  AdwToast *toast = adw_toast_new (message);

  /* Toasts come and go one at a time: tests count them here. */
  g_debug ("toast: %s", message);
  adw_toast_set_timeout (toast, timeout_s);
  adw_toast_set_priority (toast, priority);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
  return toast;
}

static void
toast (ConfabWindow *self, const char *message)
{
  show_toast (self, message, 5, ADW_TOAST_PRIORITY_NORMAL);
}

static void
update_actions (ConfabWindow *self)
{
  gboolean in_call = self->session != NULL;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.leave", in_call);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.join", !in_call && self->invite != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.join-link", !in_call);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.new-meeting", !in_call);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.back", !in_call);
  gtk_widget_set_visible (GTK_WIDGET (self->controls_box), in_call);
  gtk_widget_set_visible (GTK_WIDGET (self->diagnostics_button), in_call);
  /* Screen sharing is a later issue: the button says so and does nothing. */
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "call.share-screen", FALSE);
}

/* ---- recent rooms ------------------------------------------------------------ */

static void
on_recent_activated (AdwActionRow *row, ConfabWindow *self)
{
  confab_window_open_link (self, g_object_get_data (G_OBJECT (row), "confab-link"));
}

static void
update_recent_rooms (ConfabWindow *self)
{
  g_auto (GStrv) links = g_settings_get_strv (self->settings, "recent-rooms");
  g_autofree char *default_server = g_settings_get_string (self->settings, "default-server");
  GtkListBoxRow *old;
  guint n = 0;

  while ((old = gtk_list_box_get_row_at_index (self->recent_list, 0)) != NULL)
    gtk_list_box_remove (self->recent_list, GTK_WIDGET (old));
  for (guint i = 0; links[i] != NULL && n < CONFAB_MAX_RECENT_ROOMS; i++)
    {
      ConfabInvite *invite =
          confab_invite_parse (links[i], *default_server != '\0' ? default_server : NULL, NULL);
      GtkWidget *row;

      /* A link that no longer parses (say, the default server went) is skipped. */
      if (invite == NULL)
        continue;
      row = adw_action_row_new ();
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row),
                                     invite->room != NULL ? invite->room : links[i]);
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      invite->room != NULL ? invite->room : links[i], -1);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row),
                                   invite->ws_base != NULL ? invite->ws_base : invite->config_url);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                                 gtk_image_new_from_icon_name ("go-next-symbolic"));
      gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
      g_object_set_data_full (G_OBJECT (row), "confab-link", g_strdup (links[i]), g_free);
      g_signal_connect (row, "activated", G_CALLBACK (on_recent_activated), self);
      gtk_list_box_append (self->recent_list, row);
      confab_invite_free (invite);
      n++;
    }
  gtk_widget_set_visible (GTK_WIDGET (self->recent_group), n > 0);
}

static void
remember_room (ConfabWindow *self, const char *link)
{
  g_auto (GStrv) links = g_settings_get_strv (self->settings, "recent-rooms");
  g_auto (GStrv) updated =
      confab_recent_rooms_add ((const char *const *) links, link, CONFAB_MAX_RECENT_ROOMS);

  /* "changed::recent-rooms" redraws the list. */
  g_settings_set_strv (self->settings, "recent-rooms", (const char *const *) updated);
}

static void
show_start (ConfabWindow *self, const char *error_message)
{
  show_error (self->start_error_label, error_message);
  adw_window_title_set_subtitle (self->window_title, NULL);
  update_recent_rooms (self);
  gtk_stack_set_visible_child_name (self->stack, "start");
  update_actions (self);
}

static void
show_prejoin (ConfabWindow *self, ConfabInvite *invite)
{
  g_autofree char *title = NULL;
  const char *server = invite->ws_base != NULL ? invite->ws_base : invite->config_url;

  g_clear_pointer (&self->invite, confab_invite_free);
  self->invite = invite;

  title = g_strdup_printf (_ ("Room “%s”"), invite->room != NULL ? invite->room : _ ("from token"));
  adw_status_page_set_title (self->prejoin_page, title);
  adw_status_page_set_description (self->prejoin_page, server);
  adw_window_title_set_subtitle (self->window_title, invite->room);
  show_error (self->prejoin_error_label, NULL);
  if (invite->user != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->name_row), invite->user);
  gtk_stack_set_visible_child_name (self->stack, "prejoin");
  update_actions (self);
}

void
confab_window_open_link (ConfabWindow *self, const char *link)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *default_server = NULL;
  ConfabInvite *invite;

  g_return_if_fail (CONFAB_IS_WINDOW (self));

  if (self->session != NULL)
    {
      toast (self, _ ("Leave this call before joining another"));
      return;
    }
  default_server = g_settings_get_string (self->settings, "default-server");
  invite = confab_invite_parse (link, *default_server != '\0' ? default_server : NULL, &error);
  if (invite == NULL)
    {
      g_autofree char *message =
          g_strdup_printf (_ ("This link cannot be used: %s"), error->message);

      gtk_editable_set_text (GTK_EDITABLE (self->link_entry), link);
      show_start (self, message);
      return;
    }
  g_free (self->link);
  self->link = g_strdup (link);
  show_prejoin (self, invite);
}

/* ---- panels ------------------------------------------------------------------ */

static void
update_badge (ConfabWindow *self)
{
  g_autofree char *text = NULL;
  g_autofree char *spoken = NULL;

  gtk_widget_set_visible (GTK_WIDGET (self->chat_badge), self->unread > 0);
  if (self->unread == 0)
    {
      gtk_accessible_reset_property (GTK_ACCESSIBLE (self->chat_button),
                                     GTK_ACCESSIBLE_PROPERTY_DESCRIPTION);
      return;
    }
  text = self->unread > 99 ? g_strdup ("99+") : g_strdup_printf ("%u", self->unread);
  spoken = g_strdup_printf (ngettext ("%u unread message", "%u unread messages", self->unread),
                            self->unread);
  gtk_label_set_text (self->chat_badge, text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->chat_badge), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  spoken, -1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->chat_button),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, spoken, -1);
}

/* One side panel at a time: "chat", "participants" or NULL for none. The
 * toggles follow through the chat-open / participants-open properties. */
static void
set_panel (ConfabWindow *self, const char *panel)
{
  gboolean chat = g_strcmp0 (panel, "chat") == 0;
  gboolean participants = g_strcmp0 (panel, "participants") == 0;

  if (panel != NULL)
    gtk_stack_set_visible_child_name (self->panel_stack, panel);
  adw_flap_set_reveal_flap (self->side_flap, panel != NULL);
  if (chat)
    {
      self->unread = 0;
      update_badge (self);
      confab_chat_panel_focus_entry (self->chat_panel);
    }
  if (self->chat_open != chat)
    {
      self->chat_open = chat;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CHAT_OPEN]);
    }
  if (self->participants_open != participants)
    {
      self->participants_open = participants;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PARTICIPANTS_OPEN]);
    }
}

/* A folded flap closes by itself (a click beside it, Escape): the toggles
 * must follow. */
static void
on_flap_revealed (AdwFlap *flap, GParamSpec *pspec, ConfabWindow *self)
{
  if (!adw_flap_get_reveal_flap (flap) && (self->chat_open || self->participants_open))
    set_panel (self, NULL);
}

/* A folded panel slides over the grid: tiles wholly under it are hidden
 * (their video decoded at key frames only). Beside the grid it hides none. */
static void
on_flap_moved (AdwFlap *flap, GParamSpec *pspec, ConfabWindow *self)
{
  gboolean over = adw_flap_get_folded (flap) && adw_flap_get_reveal_progress (flap) > 0;

  confab_video_grid_set_cover (self->video_grid, over ? adw_flap_get_flap (flap) : NULL);
}

static gboolean
on_chat_send (ConfabChatPanel *panel, const char *text, ConfabWindow *self)
{
  g_autoptr (GError) error = NULL;
  const char *name = gtk_editable_get_text (GTK_EDITABLE (self->name_row));

  if (self->session == NULL)
    return FALSE;
  if (confab_call_session_send_chat (self->session, text, name, &error))
    return TRUE;
  if (g_error_matches (error, CONFAB_CHAT_ERROR, CONFAB_CHAT_ERROR_TOO_LONG))
    confab_chat_panel_show_error (panel, _ ("This message is too long to send"));
  else if (g_error_matches (error, CONFAB_CHAT_ERROR, CONFAB_CHAT_ERROR_INVALID))
    confab_chat_panel_show_error (panel,
                                  _ ("This message contains characters that cannot be sent"));
  else if (g_error_matches (error, CONFAB_CHAT_ERROR, CONFAB_CHAT_ERROR_EMPTY))
    confab_chat_panel_show_error (panel, _ ("Type a message first"));
  else
    confab_chat_panel_show_error (panel, _ ("Not connected: the message was not sent"));
  return FALSE;
}

static void
on_chat_message (ConfabCallSession *session,
                 guint64 session_id,
                 const char *name,
                 const char *text,
                 ConfabWindow *self)
{
  confab_chat_panel_add_message (self->chat_panel, name, text, FALSE, NULL);
  if (self->chat_open)
    return;
  self->unread++;
  update_badge (self);
}

/* ---- the call ---------------------------------------------------------------- */

/* "12:34", or "1:02:03" past an hour. */
static char *
format_elapsed (gint64 seconds)
{
  if (seconds >= 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT ":%02d:%02d", seconds / 3600,
                            (int) (seconds / 60 % 60), (int) (seconds % 60));
  return g_strdup_printf ("%02d:%02d", (int) (seconds / 60), (int) (seconds % 60));
}

/* The header says the room and how long we have been in it. */
static gboolean
update_clock (gpointer data)
{
  ConfabWindow *self = data;
  g_autofree char *elapsed = NULL;

  if (self->session == NULL)
    return G_SOURCE_REMOVE;
  if (!self->joined)
    {
      adw_window_title_set_subtitle (self->window_title, _ ("Connecting…"));
      return G_SOURCE_CONTINUE;
    }
  elapsed = format_elapsed ((g_get_monotonic_time () - self->call_start_us) / G_USEC_PER_SEC);
  adw_window_title_set_subtitle (self->window_title, elapsed);
  return G_SOURCE_CONTINUE;
}

static void
set_call_title (ConfabWindow *self, const char *room)
{
  g_autofree char *window_title = NULL;

  adw_window_title_set_title (self->window_title, room != NULL ? room : _ ("Confab"));
  /* Translators: the window title in a call: the room's name. */
  window_title = room != NULL ? g_strdup_printf (_ ("%s – Confab"), room) : g_strdup (_ ("Confab"));
  gtk_window_set_title (GTK_WINDOW (self), window_title);
}

/* The tiles themselves are the video grid's (confab_video_grid_bind_session). */
static void
update_grid (ConfabWindow *self)
{
  guint n_tiles = confab_video_grid_get_n_tiles (self->video_grid);

  gtk_stack_set_visible_child_name (self->grid_stack, n_tiles == 0 ? "waiting" : "grid");
}

static void
on_session_joined (ConfabCallSession *session, ConfabWindow *self)
{
  update_grid (self);
  /* "joined" comes again after a path switch or reconnect: same call. */
  if (self->joined)
    return;
  self->joined = TRUE;
  self->call_start_us = g_get_monotonic_time ();
  update_clock (self);
  if (self->link != NULL)
    remember_room (self, self->link);
  toast (self, _ ("Joined"));
}

static void
on_participant_added (ConfabCallSession *session,
                      guint64 session_id,
                      const char *name,
                      ConfabWindow *self)
{
  g_autofree char *message = NULL;
  gboolean video = TRUE, audio = TRUE;

  update_grid (self);
  confab_participants_panel_add (self->participants_panel, session_id, name);
  if (confab_call_session_get_participant (session, session_id, &video, &audio, NULL))
    confab_participants_panel_set_state (self->participants_panel, session_id, audio, video);
  message = g_strdup_printf (_ ("%s joined"), name);
  toast (self, message);
}

static void
on_participant_changed (ConfabCallSession *session, guint64 session_id, ConfabWindow *self)
{
  gboolean video, audio;

  if (confab_call_session_get_participant (session, session_id, &video, &audio, NULL))
    confab_participants_panel_set_state (self->participants_panel, session_id, audio, video);
}

static void
on_participant_removed (ConfabCallSession *session,
                        guint64 session_id,
                        gboolean replaced,
                        ConfabWindow *self)
{
  const char *name = confab_participants_panel_get_name (self->participants_panel, session_id);

  /* Replaced: the person moved to a new connection; they did not leave. */
  if (name != NULL && !replaced)
    {
      g_autofree char *message = g_strdup_printf (_ ("%s left"), name);

      toast (self, message);
    }
  confab_participants_panel_remove (self->participants_panel, session_id);
  update_grid (self);
}

/* Stays up (timeout 0) for as long as we are cut off, and at once: a high
 * priority toast does not queue behind "cli_bob joined" (whose timeout does
 * not even run while the window is not focused). */
static void
on_reconnecting (ConfabCallSession *session, ConfabWindow *self)
{
  if (self->reconnect_toast != NULL)
    return;
  g_set_weak_pointer (
      &self->reconnect_toast,
      show_toast (self, _ ("Connection lost, reconnecting…"), 0, ADW_TOAST_PRIORITY_HIGH));
}

static void
on_reconnected (ConfabCallSession *session, ConfabWindow *self)
{
  if (self->reconnect_toast != NULL)
    adw_toast_dismiss (self->reconnect_toast);
  g_clear_weak_pointer (&self->reconnect_toast);
  show_toast (self, _ ("Reconnected"), 5, ADW_TOAST_PRIORITY_HIGH);
}

/* The call goes on without our sound (the camera's problems show in the
 * self-view instead). */
static void
on_microphone_problem (ConfabCallSession *session, const char *message, ConfabWindow *self)
{
  show_toast (self, message, 5, ADW_TOAST_PRIORITY_HIGH);
}

static void
end_session (ConfabWindow *self)
{
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_object (&self->session);
  g_clear_handle_id (&self->clock_timer, g_source_remove);
  confab_video_grid_bind_session (self->video_grid, NULL);
  confab_diagnostics_set_session (self->diagnostics, NULL);
  confab_participants_panel_clear (self->participants_panel);
  set_panel (self, NULL);
  gtk_menu_button_popdown (self->diagnostics_button);
  /* It has no timeout: it must not outlive the outage's call. */
  if (self->reconnect_toast != NULL)
    adw_toast_dismiss (self->reconnect_toast);
  g_clear_weak_pointer (&self->reconnect_toast);
  self->joined = FALSE;
  self->presenting = FALSE;
  set_call_title (self, NULL);
  update_grid (self);
}

static void
on_error_response (AdwMessageDialog *dialog, const char *response, ConfabWindow *self)
{
  if (g_strcmp0 (response, "retry") == 0)
    gtk_widget_activate_action (GTK_WIDGET (self), "win.join", NULL);
}

/* A blocking problem: the room refused us or no relay could be reached. */
static void
show_join_error (ConfabWindow *self, const GError *error)
{
  const char *heading;
  AdwMessageDialog *dialog;

  if (g_error_matches (error, CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_REFUSED))
    heading = _ ("The Room Refused to Let You In");
  else if (g_error_matches (error, CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_CONNECT) ||
           g_error_matches (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_FETCH))
    heading = _ ("Cannot Reach the Server");
  else
    heading = _ ("Could Not Join the Call");
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self), heading, error->message));
  adw_message_dialog_add_responses (dialog, "close", _ ("_Close"), "retry", _ ("_Retry"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "retry", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "retry");
  adw_message_dialog_set_close_response (dialog, "close");
  g_signal_connect (dialog, "response", G_CALLBACK (on_error_response), self);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_session_ended (ConfabCallSession *session, const GError *error, ConfabWindow *self)
{
  g_autofree char *message = NULL;
  gboolean was_joined = self->joined;

  if (error != NULL)
    message = g_strdup_printf (_ ("Could not join the call: %s"), error->message);
  end_session (self);
  if (self->invite != NULL)
    {
      gtk_stack_set_visible_child_name (self->stack, "prejoin");
      adw_window_title_set_subtitle (self->window_title, self->invite->room);
      show_error (self->prejoin_error_label, message);
      update_actions (self);
    }
  else
    show_start (self, message);
  if (error != NULL)
    show_join_error (self, error);
  else if (was_joined)
    toast (self, _ ("You left the call"));
}

static void
join_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  ConfabWindow *self = CONFAB_WINDOW (widget);
  g_autoptr (GError) error = NULL;
  g_autofree char *title = NULL;
  const char *name = gtk_editable_get_text (GTK_EDITABLE (self->name_row));
  const char *room;

  if (self->invite == NULL || self->session != NULL)
    return;
  self->session =
      confab_call_session_new (self->invite, name, self->microphone_on, self->camera_on, &error);
  if (self->session == NULL)
    {
      show_error (self->prejoin_error_label, error->message);
      return;
    }
  g_settings_set_string (self->settings, "display-name", name);
  /* First, so the grid has its tiles when the window counts them. */
  confab_video_grid_bind_session (self->video_grid, self->session);
  g_signal_connect (self->session, "joined", G_CALLBACK (on_session_joined), self);
  g_signal_connect (self->session, "participant-added", G_CALLBACK (on_participant_added), self);
  g_signal_connect (self->session, "participant-removed", G_CALLBACK (on_participant_removed),
                    self);
  g_signal_connect (self->session, "participant-changed", G_CALLBACK (on_participant_changed),
                    self);
  g_signal_connect (self->session, "chat-message", G_CALLBACK (on_chat_message), self);
  g_signal_connect (self->session, "reconnecting", G_CALLBACK (on_reconnecting), self);
  g_signal_connect (self->session, "reconnected", G_CALLBACK (on_reconnected), self);
  g_signal_connect (self->session, "microphone-problem", G_CALLBACK (on_microphone_problem), self);
  g_signal_connect (self->session, "ended", G_CALLBACK (on_session_ended), self);

  room = confab_call_session_get_room (self->session);
  title = g_strdup_printf (_ ("Connecting to “%s”…"), room);
  adw_status_page_set_title (self->waiting_page, title);
  confab_chat_panel_clear (self->chat_panel);
  self->unread = 0;
  update_badge (self);
  confab_participants_panel_add (self->participants_panel, 0, name);
  confab_participants_panel_set_state (self->participants_panel, 0, self->microphone_on,
                                       self->camera_on);
  confab_diagnostics_set_session (self->diagnostics, self->session);
  self->joined = FALSE;
  set_call_title (self, room);
  update_grid (self);
  gtk_stack_set_visible_child_name (self->stack, "call");
  update_actions (self);
  update_clock (self);
  self->clock_timer = g_timeout_add_seconds (1, update_clock, self);
  confab_call_session_start (self->session);
}

static void
on_leave_response (AdwMessageDialog *dialog, const char *response, ConfabWindow *self)
{
  if (g_strcmp0 (response, "leave") == 0 && self->session != NULL)
    confab_call_session_leave (self->session);
}

/* Leaving asks first only while we present: a slip of Ctrl+W should not
 * cut off a talk. */
static void
leave_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  ConfabWindow *self = CONFAB_WINDOW (widget);
  AdwMessageDialog *dialog;

  if (self->session == NULL)
    return;
  if (!self->presenting)
    {
      confab_call_session_leave (self->session);
      return;
    }
  dialog = ADW_MESSAGE_DIALOG (
      adw_message_dialog_new (GTK_WINDOW (self), _ ("Stop Presenting and Leave?"),
                              _ ("Everyone in the call is watching your screen.")));
  adw_message_dialog_add_responses (dialog, "cancel", _ ("_Cancel"), "leave", _ ("_Leave"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "leave", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect (dialog, "response", G_CALLBACK (on_leave_response), self);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
share_screen_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  /* Never enabled yet (update_actions): screen sharing is its own issue. */
}

static void
preferences_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  gtk_window_present (GTK_WINDOW (confab_preferences_new (GTK_WINDOW (widget))));
}

static void
join_link_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  ConfabWindow *self = CONFAB_WINDOW (widget);
  g_autofree char *link = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->link_entry)));

  g_strstrip (link);
  if (*link == '\0')
    {
      show_start (self, _ ("Paste an invite link or type a room name first"));
      return;
    }
  confab_window_open_link (self, link);
}

static void
back_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  show_start (CONFAB_WINDOW (widget), NULL);
}

/* A random room on the default server; its link goes to the clipboard. */
static void
new_meeting_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  ConfabWindow *self = CONFAB_WINDOW (widget);
  g_autofree char *server = g_settings_get_string (self->settings, "default-server");
  g_autofree char *room = confab_random_room ();
  g_autofree char *link = NULL;

  if (*server == '\0')
    {
      show_start (self, _ ("Set a default server in the preferences to start a new meeting"));
      return;
    }
  link = confab_meeting_link (server, room);
  if (link == NULL)
    {
      show_start (self, _ ("The default server must be an https:// or ws:// address"));
      return;
    }
  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), link);
  confab_window_open_link (self, link);
  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->stack), "prejoin") == 0)
    toast (self, _ ("Meeting link copied"));
}

/* ---- GObject ---------------------------------------------------------------------- */

static void
set_microphone (ConfabWindow *self, gboolean on)
{
  if (self->microphone_on == !!on)
    return;
  self->microphone_on = !!on;
  if (self->session != NULL)
    confab_call_session_set_microphone (self->session, self->microphone_on);
  gtk_button_set_icon_name (GTK_BUTTON (self->microphone_button),
                            on ? "audio-input-microphone-symbolic"
                               : "microphone-disabled-symbolic");
  confab_participants_panel_set_state (self->participants_panel, 0, self->microphone_on,
                                       self->camera_on);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MICROPHONE_ON]);
}

static void
set_camera (ConfabWindow *self, gboolean on)
{
  if (self->camera_on == !!on)
    return;
  self->camera_on = !!on;
  if (self->session != NULL)
    confab_call_session_set_camera (self->session, self->camera_on);
  gtk_button_set_icon_name (GTK_BUTTON (self->camera_button),
                            on ? "camera-web-symbolic" : "camera-disabled-symbolic");
  confab_participants_panel_set_state (self->participants_panel, 0, self->microphone_on,
                                       self->camera_on);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAMERA_ON]);
}

ConfabWindow *
confab_window_new (GtkApplication *application)
{
  return g_object_new (CONFAB_TYPE_WINDOW, "application", application, NULL);
}

static void
confab_window_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  ConfabWindow *self = CONFAB_WINDOW (object);

  switch (prop_id)
    {
      case PROP_MICROPHONE_ON:
        g_value_set_boolean (value, self->microphone_on);
        break;
      case PROP_CAMERA_ON:
        g_value_set_boolean (value, self->camera_on);
        break;
      case PROP_CHAT_OPEN:
        g_value_set_boolean (value, self->chat_open);
        break;
      case PROP_PARTICIPANTS_OPEN:
        g_value_set_boolean (value, self->participants_open);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_window_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  ConfabWindow *self = CONFAB_WINDOW (object);

  switch (prop_id)
    {
      case PROP_MICROPHONE_ON:
        set_microphone (self, g_value_get_boolean (value));
        break;
      case PROP_CAMERA_ON:
        set_camera (self, g_value_get_boolean (value));
        break;
      case PROP_CHAT_OPEN:
        if (g_value_get_boolean (value))
          set_panel (self, "chat");
        else if (self->chat_open)
          set_panel (self, NULL);
        break;
      case PROP_PARTICIPANTS_OPEN:
        if (g_value_get_boolean (value))
          set_panel (self, "participants");
        else if (self->participants_open)
          set_panel (self, NULL);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_window_dispose (GObject *object)
{
  ConfabWindow *self = CONFAB_WINDOW (object);

  if (self->session != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->session, self);
      confab_call_session_leave (self->session);
    }
  g_clear_object (&self->session);
  g_clear_handle_id (&self->clock_timer, g_source_remove);
  gtk_widget_dispose_template (GTK_WIDGET (self), CONFAB_TYPE_WINDOW);
  G_OBJECT_CLASS (confab_window_parent_class)->dispose (object);
}

static void
confab_window_finalize (GObject *object)
{
  ConfabWindow *self = CONFAB_WINDOW (object);

  g_clear_pointer (&self->invite, confab_invite_free);
  g_clear_pointer (&self->link, g_free);
  g_clear_weak_pointer (&self->reconnect_toast);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (confab_window_parent_class)->finalize (object);
}

static void
confab_window_class_init (ConfabWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = confab_window_get_property;
  object_class->set_property = confab_window_set_property;
  object_class->dispose = confab_window_dispose;
  object_class->finalize = confab_window_finalize;

  /* What our heartbeats say; the toggles and Ctrl+D / Ctrl+E act on them. */
  properties[PROP_MICROPHONE_ON] =
      g_param_spec_boolean ("microphone-on", NULL, NULL, TRUE,
                            G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CAMERA_ON] =
      g_param_spec_boolean ("camera-on", NULL, NULL, TRUE,
                            G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* Which side panel is open (at most one); the Chat and Participants toggles. */
  properties[PROP_CHAT_OPEN] =
      g_param_spec_boolean ("chat-open", NULL, NULL, FALSE,
                            G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PARTICIPANTS_OPEN] =
      g_param_spec_boolean ("participants-open", NULL, NULL, FALSE,
                            G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (CONFAB_TYPE_VIDEO_GRID);
  g_type_ensure (CONFAB_TYPE_PREJOIN);
  g_type_ensure (CONFAB_TYPE_CHAT_PANEL);
  g_type_ensure (CONFAB_TYPE_PARTICIPANTS_PANEL);
  g_type_ensure (CONFAB_TYPE_DIAGNOSTICS);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/confab/Confab/confab-window.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, link_entry);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, start_error_label);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, start_join_button);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, prejoin_page);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, prejoin_clamp);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, prejoin_box);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, name_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, prejoin_error_label);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, grid_stack);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, waiting_page);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, video_grid);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, controls_box);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, microphone_button);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, camera_button);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, share_screen_button);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, participants_button);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, chat_button);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, chat_badge);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, side_flap);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, panel_stack);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, chat_panel);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, participants_panel);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, diagnostics_button);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, diagnostics);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, recent_group);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, recent_list);
  gtk_widget_class_bind_template_callback (widget_class, on_chat_send);

  gtk_widget_class_install_action (widget_class, "win.join-link", NULL, join_link_action);
  gtk_widget_class_install_action (widget_class, "win.join", NULL, join_action);
  gtk_widget_class_install_action (widget_class, "win.leave", NULL, leave_action);
  gtk_widget_class_install_action (widget_class, "win.back", NULL, back_action);
  gtk_widget_class_install_action (widget_class, "win.new-meeting", NULL, new_meeting_action);
  gtk_widget_class_install_property_action (widget_class, "call.microphone", "microphone-on");
  gtk_widget_class_install_property_action (widget_class, "call.camera", "camera-on");
  gtk_widget_class_install_property_action (widget_class, "call.chat", "chat-open");
  gtk_widget_class_install_property_action (widget_class, "call.participants", "participants-open");
  gtk_widget_class_install_action (widget_class, "call.share-screen", NULL, share_screen_action);
  gtk_widget_class_install_action (widget_class, "win.preferences", NULL, preferences_action);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_d, GDK_CONTROL_MASK, "call.microphone",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_e, GDK_CONTROL_MASK, "call.camera",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_w, GDK_CONTROL_MASK, "win.leave",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_comma, GDK_CONTROL_MASK,
                                       "win.preferences", NULL);
}

/* Pre-join: preview beside the settings when the window is wide enough for
 * both columns (so Join is visible without scrolling), one column below that
 * (phones, narrow windows). GTK 4 keeps default-width at the window's size. */
#define PREJOIN_WIDE_PX 820

static void
prejoin_layout (ConfabWindow *self)
{
  int width = 0, height = 0;
  gboolean wide;

  /* GTK 4.8 writes both sizes (no NULL). */
  gtk_window_get_default_size (GTK_WINDOW (self), &width, &height);
  wide = width >= PREJOIN_WIDE_PX;
  gtk_orientable_set_orientation (GTK_ORIENTABLE (self->prejoin_box),
                                  wide ? GTK_ORIENTATION_HORIZONTAL : GTK_ORIENTATION_VERTICAL);
  gtk_box_set_spacing (self->prejoin_box, wide ? 24 : 18);
  adw_clamp_set_maximum_size (self->prejoin_clamp, wide ? 864 : 420);
}

static void
confab_window_init (ConfabWindow *self)
{
  g_autofree char *name = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = g_settings_new (CONFAB_SETTINGS_SCHEMA);
  g_signal_connect (self->side_flap, "notify::reveal-flap", G_CALLBACK (on_flap_revealed), self);
  g_signal_connect (self->side_flap, "notify::reveal-progress", G_CALLBACK (on_flap_moved), self);
  g_signal_connect (self->side_flap, "notify::folded", G_CALLBACK (on_flap_moved), self);
  g_signal_connect_swapped (self->settings, "changed::recent-rooms",
                            G_CALLBACK (update_recent_rooms), self);
  /* Through the property, so the toggles bound to call.* see the state. */
  g_object_set (self, "microphone-on", !g_settings_get_boolean (self->settings, "start-muted"),
                "camera-on", TRUE, NULL);

  /* The name from last time, else the account's. */
  name = g_settings_get_string (self->settings, "display-name");
  if (*name == '\0')
    {
      const char *real_name = g_get_real_name ();

      g_free (name);
      name = g_strdup (g_strcmp0 (real_name, "Unknown") != 0 ? real_name : g_get_user_name ());
    }
  gtk_editable_set_text (GTK_EDITABLE (self->name_row), name);
  gtk_window_set_default_widget (GTK_WINDOW (self), GTK_WIDGET (self->start_join_button));
  g_signal_connect_swapped (self, "notify::default-width", G_CALLBACK (prejoin_layout), self);
  prejoin_layout (self);
  show_start (self, NULL);
}
