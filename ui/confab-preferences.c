/* confab-preferences.c: the preferences window. Every row is bound to its
 * GSettings key, so a change applies at once and the next call uses it (a
 * speaker also in the call going on); the device rows list what PipeWire
 * has, as the pre-join page's do. */
#define G_LOG_DOMAIN "confab-preferences"

#include "confab-preferences.h"

#include "confab-device-row.h"

#include <glib/gi18n.h>

#define CONFAB_SETTINGS_SCHEMA "io.github.confab.Confab"

struct _ConfabPreferences
{
  AdwPreferencesWindow parent_instance;

  /* Template widgets */
  AdwEntryRow *display_name_row;
  GtkSwitch *start_muted_switch;
  AdwEntryRow *default_server_row;
  ConfabDeviceRow *camera_row;
  ConfabDeviceRow *microphone_row;
  ConfabDeviceRow *speaker_row;
  GtkSwitch *echo_cancellation_switch;
  AdwComboRow *codec_row;

  /* Owned */
  GSettings *settings;
  ConfabPipewire *pipewire; /* NULL: PipeWire is not running */
  ConfabDeviceMonitor *monitor;
};

G_DEFINE_FINAL_TYPE (ConfabPreferences, confab_preferences, ADW_TYPE_PREFERENCES_WINDOW)

/* The codec row lists the schema's enum in its order: vp9, vp8. */
static const char *const codec_nicks[] = { "vp9", "vp8" };

static gboolean
codec_to_row (GValue *value, GVariant *variant, gpointer user_data)
{
  const char *nick = g_variant_get_string (variant, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (codec_nicks); i++)
    if (g_str_equal (nick, codec_nicks[i]))
      {
        g_value_set_uint (value, i);
        return TRUE;
      }
  return FALSE;
}

static GVariant *
codec_from_row (const GValue *value, const GVariantType *type, gpointer user_data)
{
  guint i = g_value_get_uint (value);

  return i < G_N_ELEMENTS (codec_nicks) ? g_variant_new_string (codec_nicks[i]) : NULL;
}

GtkWidget *
confab_preferences_new (GtkWindow *parent)
{
  return g_object_new (CONFAB_TYPE_PREFERENCES, "transient-for", parent, NULL);
}

static void
confab_preferences_dispose (GObject *object)
{
  ConfabPreferences *self = CONFAB_PREFERENCES (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), CONFAB_TYPE_PREFERENCES);
  g_clear_object (&self->monitor);
  g_clear_object (&self->pipewire);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (confab_preferences_parent_class)->dispose (object);
}

static void
confab_preferences_class_init (ConfabPreferencesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = confab_preferences_dispose;
  g_type_ensure (CONFAB_TYPE_DEVICE_ROW);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/confab/Confab/confab-preferences.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabPreferences, display_name_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabPreferences, start_muted_switch);
  gtk_widget_class_bind_template_child (widget_class, ConfabPreferences, default_server_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabPreferences, camera_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabPreferences, microphone_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabPreferences, speaker_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabPreferences, echo_cancellation_switch);
  gtk_widget_class_bind_template_child (widget_class, ConfabPreferences, codec_row);
}

static void
confab_preferences_init (ConfabPreferences *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = g_settings_new (CONFAB_SETTINGS_SCHEMA);

  g_settings_bind (self->settings, "display-name", self->display_name_row, "text",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "start-muted", self->start_muted_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "default-server", self->default_server_row, "text",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "echo-cancellation", self->echo_cancellation_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_with_mapping (self->settings, "codec", self->codec_row, "selected",
                                G_SETTINGS_BIND_DEFAULT, codec_to_row, codec_from_row, NULL, NULL);

  /* The devices PipeWire has now, and as they come and go. */
  {
    g_autoptr (GError) error = NULL;

    self->pipewire = confab_pipewire_new (-1, &error);
    if (self->pipewire != NULL)
      self->monitor = confab_device_monitor_new (self->pipewire, &error);
    if (self->monitor == NULL)
      {
        g_message ("no devices: %s", error->message);
        g_clear_object (&self->pipewire);
        gtk_widget_set_tooltip_text (GTK_WIDGET (self->speaker_row), _ ("PipeWire is not running"));
      }
    confab_device_row_set_monitor (self->camera_row, self->monitor);
    confab_device_row_set_monitor (self->microphone_row, self->monitor);
    confab_device_row_set_monitor (self->speaker_row, self->monitor);
  }
}
