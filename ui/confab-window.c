/* confab-window.c: the main window's pages and actions. The call itself is a
 * ConfabCallSession; the window only shows what it reports. */
#define G_LOG_DOMAIN "confab-window"

#include "confab-window.h"

#include "confab-call-session.h"
#include "confab-invite.h"
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
  AdwEntryRow *name_row;
  GtkLabel *prejoin_error_label;
  GtkStack *grid_stack;
  AdwStatusPage *waiting_page;
  ConfabVideoGrid *video_grid;
  GtkBox *controls_box;
  GtkToggleButton *microphone_button;
  GtkToggleButton *camera_button;

  /* Owned */
  GSettings *settings;
  ConfabInvite *invite; /* the pre-join page's */
  ConfabCallSession *session;

  gboolean microphone_on;
  gboolean camera_on;
};

G_DEFINE_FINAL_TYPE (ConfabWindow, confab_window, ADW_TYPE_APPLICATION_WINDOW)

enum
{
  PROP_0,
  PROP_MICROPHONE_ON,
  PROP_CAMERA_ON,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
show_error (GtkLabel *label, const char *message)
{
  gtk_label_set_text (label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (label), message != NULL);
}

static void
toast (ConfabWindow *self, const char *message)
{
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
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
}

static void
show_start (ConfabWindow *self, const char *error_message)
{
  show_error (self->start_error_label, error_message);
  adw_window_title_set_subtitle (self->window_title, NULL);
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
  show_prejoin (self, invite);
}

/* ---- the call ---------------------------------------------------------------- */

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
  toast (self, _ ("Joined"));
}

static void
on_participant_added (ConfabCallSession *session,
                      guint64 session_id,
                      const char *name,
                      ConfabWindow *self)
{
  g_autofree char *message = NULL;

  update_grid (self);
  message = g_strdup_printf (_ ("%s joined"), name);
  toast (self, message);
}

static void
on_participant_removed (ConfabCallSession *session, guint64 session_id, ConfabWindow *self)
{
  update_grid (self);
}

static void
end_session (ConfabWindow *self)
{
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_object (&self->session);
  confab_video_grid_bind_session (self->video_grid, NULL);
  update_grid (self);
}

static void
on_session_ended (ConfabCallSession *session, const GError *error, ConfabWindow *self)
{
  g_autofree char *message = NULL;

  if (error != NULL)
    message = g_strdup_printf (_ ("Could not join the call: %s"), error->message);
  end_session (self);
  if (self->invite != NULL)
    {
      gtk_stack_set_visible_child_name (self->stack, "prejoin");
      show_error (self->prejoin_error_label, message);
      update_actions (self);
    }
  else
    show_start (self, message);
  if (error == NULL)
    toast (self, _ ("You left the call"));
}

static void
join_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  ConfabWindow *self = CONFAB_WINDOW (widget);
  g_autoptr (GError) error = NULL;
  g_autofree char *title = NULL;
  const char *name = gtk_editable_get_text (GTK_EDITABLE (self->name_row));

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
  g_signal_connect (self->session, "ended", G_CALLBACK (on_session_ended), self);

  title = g_strdup_printf (_ ("Connecting to “%s”…"), confab_call_session_get_room (self->session));
  adw_status_page_set_title (self->waiting_page, title);
  update_grid (self);
  gtk_stack_set_visible_child_name (self->stack, "call");
  update_actions (self);
  confab_call_session_start (self->session);
}

static void
leave_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  ConfabWindow *self = CONFAB_WINDOW (widget);

  if (self->session != NULL)
    confab_call_session_leave (self->session);
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
  g_autofree char *room = NULL;
  g_autofree char *link = NULL;

  if (*server == '\0')
    {
      show_start (self, _ ("Set a default server in the settings to start a new meeting"));
      return;
    }
  room = g_strdup_printf ("%08x-%04x", g_random_int (), g_random_int_range (0, 0x10000));
  if (g_str_has_prefix (server, "http://") || g_str_has_prefix (server, "https://"))
    link = g_strdup_printf ("%s/meeting/%s", server, room);
  else
    link = g_strdup (room);
  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), link);
  confab_window_open_link (self, room);
  if (gtk_stack_get_visible_child_name (self->stack) != NULL &&
      g_str_equal (gtk_stack_get_visible_child_name (self->stack), "prejoin"))
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
  gtk_widget_dispose_template (GTK_WIDGET (self), CONFAB_TYPE_WINDOW);
  G_OBJECT_CLASS (confab_window_parent_class)->dispose (object);
}

static void
confab_window_finalize (GObject *object)
{
  ConfabWindow *self = CONFAB_WINDOW (object);

  g_clear_pointer (&self->invite, confab_invite_free);
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
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (CONFAB_TYPE_VIDEO_GRID);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/confab/Confab/confab-window.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, link_entry);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, start_error_label);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, start_join_button);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, prejoin_page);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, name_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, prejoin_error_label);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, grid_stack);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, waiting_page);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, video_grid);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, controls_box);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, microphone_button);
  gtk_widget_class_bind_template_child (widget_class, ConfabWindow, camera_button);

  gtk_widget_class_install_action (widget_class, "win.join-link", NULL, join_link_action);
  gtk_widget_class_install_action (widget_class, "win.join", NULL, join_action);
  gtk_widget_class_install_action (widget_class, "win.leave", NULL, leave_action);
  gtk_widget_class_install_action (widget_class, "win.back", NULL, back_action);
  gtk_widget_class_install_action (widget_class, "win.new-meeting", NULL, new_meeting_action);
  gtk_widget_class_install_property_action (widget_class, "call.microphone", "microphone-on");
  gtk_widget_class_install_property_action (widget_class, "call.camera", "camera-on");

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_d, GDK_CONTROL_MASK, "call.microphone",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_e, GDK_CONTROL_MASK, "call.camera",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_w, GDK_CONTROL_MASK, "win.leave",
                                       NULL);
}

static void
confab_window_init (ConfabWindow *self)
{
  g_autofree char *name = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = g_settings_new (CONFAB_SETTINGS_SCHEMA);
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
  show_start (self, NULL);
}
