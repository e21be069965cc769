/* confab-device-row.c: a device picker row bound to its GSettings key (see
 * the header). */
#define G_LOG_DOMAIN "confab-device-row"

#include "confab-device-row.h"

#include <glib/gi18n.h>

#define CONFAB_SETTINGS_SCHEMA "io.github.confab.Confab"

struct _ConfabDeviceRow
{
  AdwComboRow parent_instance;

  /* Owned */
  GSettings *settings;
  ConfabDeviceMonitor *monitor; /* NULL: no PipeWire */
  GtkStringList *labels;        /* "Default", then each device's description */
  GPtrArray *names;             /* node names, parallel to labels; NULL = default */

  ConfabDeviceKind kind;
  gboolean updating; /* refilling: not the user's choice */
  guint filled;      /* the entry fill() selected */
};

G_DEFINE_FINAL_TYPE (ConfabDeviceRow, confab_device_row, ADW_TYPE_COMBO_ROW)

enum
{
  PROP_0,
  PROP_KIND,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_DEVICE_CHOSEN,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

GType
confab_device_kind_get_type (void)
{
  static gsize type_id = 0;
  static const GEnumValue values[] = {
    { CONFAB_DEVICE_CAMERA, "CONFAB_DEVICE_CAMERA", "camera" },
    { CONFAB_DEVICE_MICROPHONE, "CONFAB_DEVICE_MICROPHONE", "microphone" },
    { CONFAB_DEVICE_SPEAKER, "CONFAB_DEVICE_SPEAKER", "speaker" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type_id))
    g_once_init_leave (&type_id, g_enum_register_static ("ConfabDeviceKind", values));
  return type_id;
}

static const char *
setting_key (ConfabDeviceRow *self)
{
  static const char *const keys[] = {
    [CONFAB_DEVICE_CAMERA] = "preferred-camera",
    [CONFAB_DEVICE_MICROPHONE] = "preferred-microphone",
    [CONFAB_DEVICE_SPEAKER] = "preferred-speaker",
  };

  return keys[self->kind];
}

const char *
confab_device_row_get_device (ConfabDeviceRow *self)
{
  guint selected;

  g_return_val_if_fail (CONFAB_IS_DEVICE_ROW (self), NULL);
  selected = adw_combo_row_get_selected (ADW_COMBO_ROW (self));
  if (selected == GTK_INVALID_LIST_POSITION || selected >= self->names->len)
    return NULL;
  return g_ptr_array_index (self->names, selected);
}

/* The list again, selecting @want (a node name) when present, else
 * "Default". A saved device that is not plugged in stays saved. */
static void
fill (ConfabDeviceRow *self, const char *want)
{
  g_autoptr (GPtrArray) devices = NULL;
  g_autoptr (GPtrArray) labels = g_ptr_array_new ();
  g_autofree char *wanted = g_strdup (want); /* @want may be one of names */
  guint n_old = g_list_model_get_n_items (G_LIST_MODEL (self->labels));
  guint selected = 0;

  self->updating = TRUE;
  g_ptr_array_set_size (self->names, 0);
  g_ptr_array_add (self->names, NULL);
  g_ptr_array_add (labels, (gpointer) _ ("Default"));
  if (self->monitor != NULL)
    devices = confab_device_monitor_list (self->monitor, self->kind);
  for (guint i = 0; devices != NULL && i < devices->len; i++)
    {
      ConfabDevice *device = g_ptr_array_index (devices, i);

      g_ptr_array_add (self->names, g_strdup (device->name));
      g_ptr_array_add (labels, device->description);
      if (g_strcmp0 (device->name, wanted) == 0)
        selected = i + 1;
    }
  g_ptr_array_add (labels, NULL);
  gtk_string_list_splice (self->labels, 0, n_old, (const char *const *) labels->pdata);
  adw_combo_row_set_selected (ADW_COMBO_ROW (self), selected);
  self->filled = selected;
  gtk_widget_set_sensitive (GTK_WIDGET (self), self->monitor != NULL);
  self->updating = FALSE;
}

static void
fill_keeping_choice (ConfabDeviceRow *self)
{
  g_autofree char *saved = g_settings_get_string (self->settings, setting_key (self));
  const char *current = confab_device_row_get_device (self);

  fill (self, current != NULL ? current : saved);
}

static void
on_selected (ConfabDeviceRow *self, GParamSpec *pspec, gpointer data)
{
  const char *name;
  guint selected = adw_combo_row_get_selected (ADW_COMBO_ROW (self));

  /* Notifications of fill()'s own selection can come late (GObject holds
   * them back while the row is constructed): only a new entry is a choice. */
  if (self->updating || selected == self->filled)
    return;
  self->filled = selected;
  name = confab_device_row_get_device (self);
  g_debug ("%s chosen: %s", setting_key (self), name != NULL ? name : "the default");
  g_settings_set_string (self->settings, setting_key (self), name != NULL ? name : "");
  g_signal_emit (self, signals[SIGNAL_DEVICE_CHOSEN], 0);
}

/* Chosen elsewhere (the other window's row): show it here too, and let
 * whoever uses the device here follow. */
static void
on_setting_changed (GSettings *settings, const char *key, ConfabDeviceRow *self)
{
  g_autofree char *saved = g_settings_get_string (settings, key);

  if (g_strcmp0 (*saved != '\0' ? saved : NULL, confab_device_row_get_device (self)) == 0)
    return;
  fill (self, saved);
  g_signal_emit (self, signals[SIGNAL_DEVICE_CHOSEN], 0);
}

/* Hot-plug: the list follows. */
static void
on_device_changed (ConfabDeviceMonitor *monitor, ConfabDevice *device, ConfabDeviceRow *self)
{
  if (device->kind == self->kind)
    fill_keeping_choice (self);
}

void
confab_device_row_set_monitor (ConfabDeviceRow *self, ConfabDeviceMonitor *monitor)
{
  g_return_if_fail (CONFAB_IS_DEVICE_ROW (self));
  g_return_if_fail (monitor == NULL || CONFAB_IS_DEVICE_MONITOR (monitor));
  if (self->monitor != NULL)
    g_signal_handlers_disconnect_by_data (self->monitor, self);
  g_set_object (&self->monitor, monitor);
  if (monitor != NULL)
    {
      g_signal_connect (monitor, "device-added", G_CALLBACK (on_device_changed), self);
      g_signal_connect (monitor, "device-removed", G_CALLBACK (on_device_changed), self);
    }
  fill_keeping_choice (self);
}

GtkWidget *
confab_device_row_new (ConfabDeviceKind kind)
{
  return g_object_new (CONFAB_TYPE_DEVICE_ROW, "kind", kind, NULL);
}

static void
confab_device_row_constructed (GObject *object)
{
  ConfabDeviceRow *self = CONFAB_DEVICE_ROW (object);
  g_autofree char *signal = g_strdup_printf ("changed::%s", setting_key (self));

  G_OBJECT_CLASS (confab_device_row_parent_class)->constructed (object);
  adw_combo_row_set_model (ADW_COMBO_ROW (self), G_LIST_MODEL (self->labels));
  g_signal_connect (self, "notify::selected", G_CALLBACK (on_selected), NULL);
  g_signal_connect (self->settings, signal, G_CALLBACK (on_setting_changed), self);
  fill_keeping_choice (self);
}

static void
confab_device_row_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  ConfabDeviceRow *self = CONFAB_DEVICE_ROW (object);

  switch (prop_id)
    {
      case PROP_KIND:
        g_value_set_enum (value, self->kind);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_device_row_set_property (GObject *object,
                                guint prop_id,
                                const GValue *value,
                                GParamSpec *pspec)
{
  ConfabDeviceRow *self = CONFAB_DEVICE_ROW (object);

  switch (prop_id)
    {
      case PROP_KIND:
        self->kind = g_value_get_enum (value);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_device_row_dispose (GObject *object)
{
  ConfabDeviceRow *self = CONFAB_DEVICE_ROW (object);

  /* Taken apart, the row drops its selection: not a choice to save. */
  self->updating = TRUE;
  if (self->monitor != NULL)
    g_signal_handlers_disconnect_by_data (self->monitor, self);
  g_clear_object (&self->monitor);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (confab_device_row_parent_class)->dispose (object);
}

static void
confab_device_row_finalize (GObject *object)
{
  ConfabDeviceRow *self = CONFAB_DEVICE_ROW (object);

  g_clear_pointer (&self->names, g_ptr_array_unref);
  g_clear_object (&self->labels);
  G_OBJECT_CLASS (confab_device_row_parent_class)->finalize (object);
}

static void
confab_device_row_class_init (ConfabDeviceRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = confab_device_row_constructed;
  object_class->get_property = confab_device_row_get_property;
  object_class->set_property = confab_device_row_set_property;
  object_class->dispose = confab_device_row_dispose;
  object_class->finalize = confab_device_row_finalize;

  properties[PROP_KIND] =
      g_param_spec_enum ("kind", NULL, NULL, CONFAB_TYPE_DEVICE_KIND, CONFAB_DEVICE_CAMERA,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_DEVICE_CHOSEN] =
      g_signal_new ("device-chosen", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 0);
}

static void
confab_device_row_init (ConfabDeviceRow *self)
{
  self->settings = g_settings_new (CONFAB_SETTINGS_SCHEMA);
  self->labels = gtk_string_list_new (NULL);
  self->names = g_ptr_array_new_with_free_func (g_free);
}
