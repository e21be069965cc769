/* confab-pipewire-private.h: what the PipeWire streams in media/ share: the
 * thread loop and core behind a ConfabPipewire, and a wake-up GSource that
 * hands work from PipeWire's thread to a GLib main context without blocking
 * or allocating. */
#pragma once

#include "confab-pipewire.h"

#include <pipewire/pipewire.h>

G_BEGIN_DECLS

/* PipeWire objects are touched only with the loop locked (or from its own
 * thread, where callbacks already hold the lock). */
struct pw_thread_loop *confab_pipewire_get_loop (ConfabPipewire *self);
/* Valid while the lock is held. */
struct pw_core *confab_pipewire_get_core (ConfabPipewire *self);
void confab_pipewire_lock (ConfabPipewire *self);
void confab_pipewire_unlock (ConfabPipewire *self);
/* Blocks (at most @timeout_ms) until the daemon answered everything sent so
 * far. Called without the lock, from the GLib side. */
gboolean confab_pipewire_roundtrip (ConfabPipewire *self, int timeout_ms);

/* A GSource on @context that runs @func whenever confab_wakeup() was called
 * from any thread since its last dispatch (several wake-ups, one dispatch). */
GSource *confab_wakeup_source_new (GMainContext *context, GSourceFunc func, gpointer data);
/* Thread-safe and allocation-free: marks the source ready and wakes its context. */
void confab_wakeup (GSource *source);

G_END_DECLS
