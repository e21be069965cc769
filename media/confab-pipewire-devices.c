/* confab-pipewire-devices.c: a registry listener on PipeWire's thread turns
 * node globals into ConfabDevice events; the main context applies them to
 * its list and emits the signals. */
#define G_LOG_DOMAIN "confab-pipewire-devices"

#include "confab-pipewire-devices.h"

#include "confab-pipewire-private.h"

#include <string.h>

G_DEFINE_BOXED_TYPE (ConfabDevice, confab_device, confab_device_ref, confab_device_unref)

ConfabDevice *
confab_device_ref (ConfabDevice *device)
{
  return g_atomic_rc_box_acquire (device);
}

static void
device_clear (gpointer data)
{
  ConfabDevice *device = data;

  g_free (device->name);
  g_free (device->description);
  g_free (device->media_class);
}

void
confab_device_unref (ConfabDevice *device)
{
  if (device != NULL)
    g_atomic_rc_box_release_full (device, device_clear);
}

const char *
confab_device_kind_to_string (ConfabDeviceKind kind)
{
  switch (kind)
    {
      case CONFAB_DEVICE_CAMERA:
        return "camera";
      case CONFAB_DEVICE_MICROPHONE:
        return "microphone";
      case CONFAB_DEVICE_SPEAKER:
        return "speaker";
    }
  return "unknown";
}

typedef struct
{
  ConfabDevice *added; /* or NULL: */
  guint32 removed_id;
} DeviceEvent;

struct _ConfabDeviceMonitor
{
  GObject parent_instance;

  /* Owned */
  ConfabPipewire *pipewire;
  GSource *wakeup;
  struct pw_registry *registry; /* under the loop lock */
  struct spa_hook registry_listener;

  /* Under lock: from PipeWire's thread to the main context */
  GMutex lock;
  GQueue events;

  /* Main context only */
  GPtrArray *devices;
};

enum
{
  SIGNAL_DEVICE_ADDED,
  SIGNAL_DEVICE_REMOVED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (ConfabDeviceMonitor, confab_device_monitor, G_TYPE_OBJECT)

static void
push_event (ConfabDeviceMonitor *self, ConfabDevice *added, guint32 removed_id)
{
  DeviceEvent *event = g_new0 (DeviceEvent, 1);

  event->added = added;
  event->removed_id = removed_id;
  g_mutex_lock (&self->lock);
  g_queue_push_tail (&self->events, event);
  g_mutex_unlock (&self->lock);
  confab_wakeup (self->wakeup);
}

static void
on_global (void *data,
           uint32_t id,
           uint32_t permissions,
           const char *type,
           uint32_t version,
           const struct spa_dict *props)
{
  ConfabDeviceMonitor *self = data;
  const char *media_class, *name, *description, *serial;
  ConfabDevice *device;
  ConfabDeviceKind kind;

  if (props == NULL || strcmp (type, PW_TYPE_INTERFACE_Node) != 0)
    return;
  media_class = spa_dict_lookup (props, PW_KEY_MEDIA_CLASS);
  if (g_strcmp0 (media_class, "Video/Source") == 0)
    kind = CONFAB_DEVICE_CAMERA;
  else if (g_strcmp0 (media_class, "Audio/Source") == 0)
    kind = CONFAB_DEVICE_MICROPHONE;
  else if (g_strcmp0 (media_class, "Audio/Sink") == 0)
    kind = CONFAB_DEVICE_SPEAKER;
  else
    return;

  name = spa_dict_lookup (props, PW_KEY_NODE_NAME);
  description = spa_dict_lookup (props, PW_KEY_NODE_DESCRIPTION);
  if (description == NULL)
    description = spa_dict_lookup (props, PW_KEY_NODE_NICK);
  serial = spa_dict_lookup (props, PW_KEY_OBJECT_SERIAL);

  device = g_atomic_rc_box_new0 (ConfabDevice);
  device->kind = kind;
  device->id = id;
  device->serial = serial != NULL ? g_ascii_strtoull (serial, NULL, 10) : 0;
  device->name = g_strdup (name != NULL ? name : "");
  device->description = g_strdup (description != NULL ? description : device->name);
  device->media_class = g_strdup (media_class);
  push_event (self, device, 0);
}

static void
on_global_remove (void *data, uint32_t id)
{
  /* Any global: the main context knows which ids are devices. */
  push_event (data, NULL, id);
}

static const struct pw_registry_events registry_events = {
  PW_VERSION_REGISTRY_EVENTS,
  .global = on_global,
  .global_remove = on_global_remove,
};

/* ---- main context ------------------------------------------------------------------- */

static void
apply_events (ConfabDeviceMonitor *self, gboolean emit)
{
  for (;;)
    {
      DeviceEvent *event;

      g_mutex_lock (&self->lock);
      event = g_queue_pop_head (&self->events);
      g_mutex_unlock (&self->lock);
      if (event == NULL)
        break;

      if (event->added != NULL)
        {
          g_ptr_array_add (self->devices, event->added);
          g_debug ("%s added: %s (%u)", confab_device_kind_to_string (event->added->kind),
                   event->added->name, event->added->id);
          if (emit)
            g_signal_emit (self, signals[SIGNAL_DEVICE_ADDED], 0, event->added);
        }
      else
        {
          for (guint i = 0; i < self->devices->len; i++)
            {
              ConfabDevice *device = g_ptr_array_index (self->devices, i);

              if (device->id != event->removed_id)
                continue;
              device = g_ptr_array_steal_index (self->devices, i);
              g_debug ("%s removed: %s (%u)", confab_device_kind_to_string (device->kind),
                       device->name, device->id);
              if (emit)
                g_signal_emit (self, signals[SIGNAL_DEVICE_REMOVED], 0, device);
              confab_device_unref (device);
              break;
            }
        }
      g_free (event);
    }
}

static gboolean
on_wakeup (gpointer data)
{
  ConfabDeviceMonitor *self = data;

  g_object_ref (self);
  apply_events (self, TRUE);
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static void
free_event (gpointer data)
{
  DeviceEvent *event = data;

  confab_device_unref (event->added);
  g_free (event);
}

static void
confab_device_monitor_finalize (GObject *object)
{
  ConfabDeviceMonitor *self = CONFAB_DEVICE_MONITOR (object);

  if (self->registry != NULL)
    {
      confab_pipewire_lock (self->pipewire);
      spa_hook_remove (&self->registry_listener);
      pw_proxy_destroy ((struct pw_proxy *) self->registry);
      confab_pipewire_unlock (self->pipewire);
    }
  if (self->wakeup != NULL)
    {
      g_source_destroy (self->wakeup);
      g_source_unref (self->wakeup);
    }
  g_queue_clear_full (&self->events, free_event);
  g_clear_pointer (&self->devices, g_ptr_array_unref);
  g_mutex_clear (&self->lock);
  g_clear_object (&self->pipewire);

  G_OBJECT_CLASS (confab_device_monitor_parent_class)->finalize (object);
}

static void
confab_device_monitor_class_init (ConfabDeviceMonitorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = confab_device_monitor_finalize;

  signals[SIGNAL_DEVICE_ADDED] =
      g_signal_new ("device-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, CONFAB_TYPE_DEVICE | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_DEVICE_REMOVED] =
      g_signal_new ("device-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, CONFAB_TYPE_DEVICE | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
confab_device_monitor_init (ConfabDeviceMonitor *self)
{
  g_mutex_init (&self->lock);
  g_queue_init (&self->events);
  self->devices = g_ptr_array_new_with_free_func ((GDestroyNotify) confab_device_unref);
}

ConfabDeviceMonitor *
confab_device_monitor_new (ConfabPipewire *pipewire, GError **error)
{
  g_autoptr (ConfabDeviceMonitor) self = NULL;
  g_autoptr (GMainContext) context = g_main_context_ref_thread_default ();

  g_return_val_if_fail (CONFAB_IS_PIPEWIRE (pipewire), NULL);

  self = g_object_new (CONFAB_TYPE_DEVICE_MONITOR, NULL);
  self->pipewire = g_object_ref (pipewire);
  self->wakeup = confab_wakeup_source_new (context, on_wakeup, self);

  confab_pipewire_lock (pipewire);
  self->registry =
      pw_core_get_registry (confab_pipewire_get_core (pipewire), PW_VERSION_REGISTRY, 0);
  if (self->registry != NULL)
    pw_registry_add_listener (self->registry, &self->registry_listener, &registry_events, self);
  confab_pipewire_unlock (pipewire);
  if (self->registry == NULL || !confab_pipewire_roundtrip (pipewire, 5000))
    {
      g_set_error (error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_DISCONNECTED,
                   "PipeWire did not list its devices");
      return NULL;
    }
  /* What exists now is the starting list, not news. */
  apply_events (self, FALSE);
  return g_steal_pointer (&self);
}

GPtrArray *
confab_device_monitor_list (ConfabDeviceMonitor *self, ConfabDeviceKind kind)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) confab_device_unref);

  g_return_val_if_fail (CONFAB_IS_DEVICE_MONITOR (self), list);
  for (guint i = 0; i < self->devices->len; i++)
    {
      ConfabDevice *device = g_ptr_array_index (self->devices, i);

      if (device->kind == kind)
        g_ptr_array_add (list, confab_device_ref (device));
    }
  return list;
}

ConfabDevice *
confab_device_monitor_lookup (ConfabDeviceMonitor *self, ConfabDeviceKind kind, const char *name)
{
  g_return_val_if_fail (CONFAB_IS_DEVICE_MONITOR (self), NULL);
  for (guint i = 0; i < self->devices->len; i++)
    {
      ConfabDevice *device = g_ptr_array_index (self->devices, i);

      if (device->kind == kind && g_strcmp0 (device->name, name) == 0)
        return device;
    }
  return NULL;
}
