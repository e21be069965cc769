/* confab-pipewire-devices.h: the cameras, microphones and speakers PipeWire
 * knows (nodes of media.class Video/Source, Audio/Source and Audio/Sink),
 * kept current as devices come and go. */
#pragma once

#include "confab-pipewire.h"

G_BEGIN_DECLS

typedef enum
{
  CONFAB_DEVICE_CAMERA,     /* Video/Source */
  CONFAB_DEVICE_MICROPHONE, /* Audio/Source */
  CONFAB_DEVICE_SPEAKER,    /* Audio/Sink */
} ConfabDeviceKind;

typedef struct
{
  ConfabDeviceKind kind;
  guint32 id;        /* the node's global id (reused by PipeWire later) */
  guint64 serial;    /* object.serial: never reused; 0 when the daemon has none */
  char *name;        /* node.name: what --video camera:NAME and target.object take */
  char *description; /* node.description, else node.nick, else node.name */
  char *media_class;
} ConfabDevice;

#define CONFAB_TYPE_DEVICE (confab_device_get_type ())
GType confab_device_get_type (void) G_GNUC_CONST;
ConfabDevice *confab_device_ref (ConfabDevice *device);
void confab_device_unref (ConfabDevice *device);
const char *confab_device_kind_to_string (ConfabDeviceKind kind);

#define CONFAB_TYPE_DEVICE_MONITOR (confab_device_monitor_get_type ())
G_DECLARE_FINAL_TYPE (ConfabDeviceMonitor, confab_device_monitor, CONFAB, DEVICE_MONITOR, GObject)

/* Lists what exists now (one round trip, at most 5 s) before returning.
 * Signals "device-added" and "device-removed" (ConfabDevice *) follow on the
 * caller's thread-default main context. */
ConfabDeviceMonitor *confab_device_monitor_new (ConfabPipewire *pipewire, GError **error);

/* The devices present, in order of appearance. (transfer container) */
GPtrArray *confab_device_monitor_list (ConfabDeviceMonitor *self, ConfabDeviceKind kind);
/* The present device of @kind named @name, or NULL. (transfer none) */
ConfabDevice *
confab_device_monitor_lookup (ConfabDeviceMonitor *self, ConfabDeviceKind kind, const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabDevice, confab_device_unref)

G_END_DECLS
