/* confab-preferences.c: the preferences window. Every row is bound to its
 * GSettings key, so a change applies at once and the next call uses it. */
#define G_LOG_DOMAIN "confab-preferences"

#include "confab-preferences.h"

#include <glib/gi18n.h>

#define CONFAB_SETTINGS_SCHEMA "io.github.confab.Confab"

struct _ConfabPreferences
{
  AdwPreferencesWindow parent_instance;

  /* Template widgets */
  AdwEntryRow *display_name_row;
  GtkSwitch *start_muted_switch;
  AdwEntryRow *default_server_row;
  AdwEntryRow *camera_row;
  AdwEntryRow *microphone_row;
  AdwEntryRow *speaker_row;
  GtkSwitch *echo_cancellation_switch;
  AdwComboRow *codec_row;

  /* Owned */
  GSettings *settings;
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
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (confab_preferences_parent_class)->dispose (object);
}

static void
confab_preferences_class_init (ConfabPreferencesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = confab_preferences_dispose;
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
  g_settings_bind (self->settings, "preferred-camera", self->camera_row, "text",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "preferred-microphone", self->microphone_row, "text",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "preferred-speaker", self->speaker_row, "text",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "echo-cancellation", self->echo_cancellation_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_with_mapping (self->settings, "codec", self->codec_row, "selected",
                                G_SETTINGS_BIND_DEFAULT, codec_to_row, codec_from_row, NULL, NULL);
}
