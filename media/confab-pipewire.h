/* confab-pipewire.h: one connection to PipeWire (the user's daemon, or a
 * remote fd such as the Camera portal's OpenPipeWireRemote answer) that the
 * camera, microphone, playback and device monitor share. PipeWire runs on its
 * own thread; every object built on it emits its signals on the GLib main
 * context that was the thread default when it was created. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define CONFAB_PIPEWIRE_ERROR (confab_pipewire_error_quark ())
GQuark confab_pipewire_error_quark (void);

typedef enum
{
  CONFAB_PIPEWIRE_ERROR_CONNECT,      /* no daemon, or the fd is no PipeWire remote */
  CONFAB_PIPEWIRE_ERROR_DISCONNECTED, /* the daemon went away */
  CONFAB_PIPEWIRE_ERROR_STREAM,       /* a stream failed or found no device in time */
  CONFAB_PIPEWIRE_ERROR_DEVICE_GONE,  /* the device a stream used disappeared */
  CONFAB_PIPEWIRE_ERROR_FORMAT,       /* the device offers nothing we can read */
} ConfabPipewireError;

#define CONFAB_TYPE_PIPEWIRE (confab_pipewire_get_type ())
G_DECLARE_FINAL_TYPE (ConfabPipewire, confab_pipewire, CONFAB, PIPEWIRE, GObject)

/* Connects to the default daemon ($PIPEWIRE_REMOTE, else pipewire-0 in
 * $XDG_RUNTIME_DIR) when @fd is -1, else over @fd (taken over: it is closed
 * with the connection). Waits for one round trip (at most 5 s), so a dead
 * daemon or a wrong fd fails here with CONFAB_PIPEWIRE_ERROR_CONNECT. */
ConfabPipewire *confab_pipewire_new (int fd, GError **error);

/* FALSE once the daemon went away; streams report it through their own
 * "error" signals. */
gboolean confab_pipewire_is_connected (ConfabPipewire *self);

G_END_DECLS
