/* confab-pipewire.c: a pw_thread_loop with one context and one core. The
 * thread loop (rather than pw_loop as a GSource) keeps audio and video
 * callbacks on time while the GLib thread encodes frames; what they produce
 * crosses over through confab_wakeup() sources. */
#define G_LOG_DOMAIN "confab-pipewire"

#include "confab-pipewire-private.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

G_DEFINE_QUARK (confab - pipewire - error - quark, confab_pipewire_error)

struct _ConfabPipewire
{
  GObject parent_instance;

  /* Owned */
  struct pw_thread_loop *loop;
  struct pw_context *context;
  struct pw_core *core;
  struct spa_hook core_listener;

  /* Under the loop lock */
  int pending_seq;
  gboolean synced;
  gint connected; /* atomic */
};

G_DEFINE_FINAL_TYPE (ConfabPipewire, confab_pipewire, G_TYPE_OBJECT)

static void
on_core_done (void *data, uint32_t id, int seq)
{
  ConfabPipewire *self = data;

  if (id == PW_ID_CORE && seq == self->pending_seq)
    {
      self->synced = TRUE;
      pw_thread_loop_signal (self->loop, FALSE);
    }
}

static void
on_core_error (void *data, uint32_t id, int seq, int res, const char *message)
{
  ConfabPipewire *self = data;

  /* -EPIPE on the core itself: the socket closed, the daemon is gone. */
  if (id == PW_ID_CORE)
    {
      g_debug ("PipeWire core error %d: %s", res, message);
      if (res == -EPIPE)
        {
          g_atomic_int_set (&self->connected, FALSE);
          pw_thread_loop_signal (self->loop, FALSE);
        }
    }
}

static const struct pw_core_events core_events = {
  PW_VERSION_CORE_EVENTS,
  .done = on_core_done,
  .error = on_core_error,
};

static void
confab_pipewire_finalize (GObject *object)
{
  ConfabPipewire *self = CONFAB_PIPEWIRE (object);

  if (self->loop != NULL)
    {
      pw_thread_loop_lock (self->loop);
      if (self->core != NULL)
        {
          spa_hook_remove (&self->core_listener);
          pw_core_disconnect (self->core);
        }
      pw_thread_loop_unlock (self->loop);
      pw_thread_loop_stop (self->loop);
    }
  if (self->context != NULL)
    pw_context_destroy (self->context);
  if (self->loop != NULL)
    pw_thread_loop_destroy (self->loop);

  G_OBJECT_CLASS (confab_pipewire_parent_class)->finalize (object);
}

static void
confab_pipewire_class_init (ConfabPipewireClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = confab_pipewire_finalize;
}

static void
confab_pipewire_init (ConfabPipewire *self)
{
}

ConfabPipewire *
confab_pipewire_new (int fd, GError **error)
{
  static gsize initialised = 0;
  g_autoptr (ConfabPipewire) self = NULL;

  if (g_once_init_enter (&initialised))
    {
      pw_init (NULL, NULL);
      g_once_init_leave (&initialised, 1);
    }

  self = g_object_new (CONFAB_TYPE_PIPEWIRE, NULL);
  self->loop = pw_thread_loop_new ("confab-pw", NULL);
  if (self->loop == NULL)
    {
      if (fd >= 0)
        close (fd);
      g_set_error (error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_CONNECT,
                   "Cannot start PipeWire's thread: %s", g_strerror (errno));
      return NULL;
    }
  self->context = pw_context_new (pw_thread_loop_get_loop (self->loop), NULL, 0);
  if (self->context == NULL || pw_thread_loop_start (self->loop) < 0)
    {
      if (fd >= 0)
        close (fd);
      g_set_error (error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_CONNECT,
                   "Cannot set up PipeWire: %s", g_strerror (errno));
      return NULL;
    }

  pw_thread_loop_lock (self->loop);
  if (fd >= 0)
    self->core = pw_context_connect_fd (self->context, fd, NULL, 0);
  else
    self->core = pw_context_connect (self->context, NULL, 0);
  if (self->core == NULL)
    {
      int saved = errno;

      pw_thread_loop_unlock (self->loop);
      g_set_error (error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_CONNECT,
                   "Cannot connect to PipeWire: %s", g_strerror (saved));
      return NULL;
    }
  pw_core_add_listener (self->core, &self->core_listener, &core_events, self);
  self->connected = TRUE;
  pw_thread_loop_unlock (self->loop);

  if (!confab_pipewire_roundtrip (self, 5000))
    {
      g_set_error (error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_CONNECT,
                   "PipeWire did not answer (is the fd a PipeWire remote?)");
      return NULL;
    }
  return g_steal_pointer (&self);
}

gboolean
confab_pipewire_is_connected (ConfabPipewire *self)
{
  g_return_val_if_fail (CONFAB_IS_PIPEWIRE (self), FALSE);
  return g_atomic_int_get (&self->connected);
}

struct pw_thread_loop *
confab_pipewire_get_loop (ConfabPipewire *self)
{
  return self->loop;
}

struct pw_core *
confab_pipewire_get_core (ConfabPipewire *self)
{
  return self->core;
}

void
confab_pipewire_lock (ConfabPipewire *self)
{
  pw_thread_loop_lock (self->loop);
}

void
confab_pipewire_unlock (ConfabPipewire *self)
{
  pw_thread_loop_unlock (self->loop);
}

gboolean
confab_pipewire_roundtrip (ConfabPipewire *self, int timeout_ms)
{
  struct timespec deadline;
  gboolean ok;

  pw_thread_loop_lock (self->loop);
  if (!g_atomic_int_get (&self->connected))
    {
      pw_thread_loop_unlock (self->loop);
      return FALSE;
    }
  self->synced = FALSE;
  self->pending_seq = pw_core_sync (self->core, PW_ID_CORE, 0);
  pw_thread_loop_get_time (self->loop, &deadline, (gint64) timeout_ms * SPA_NSEC_PER_MSEC);
  while (!self->synced && g_atomic_int_get (&self->connected))
    {
      if (pw_thread_loop_timed_wait_full (self->loop, &deadline) < 0)
        break;
    }
  ok = self->synced;
  pw_thread_loop_unlock (self->loop);
  return ok;
}

/* ---- wake-up source ------------------------------------------------------------ */

static gboolean
wakeup_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  /* Reset before the callback: a wake-up during it dispatches again. */
  g_source_set_ready_time (source, -1);
  return callback (data);
}

static GSourceFuncs wakeup_funcs = { .dispatch = wakeup_dispatch };

GSource *
confab_wakeup_source_new (GMainContext *context, GSourceFunc func, gpointer data)
{
  GSource *source = g_source_new (&wakeup_funcs, sizeof (GSource));

  g_source_set_callback (source, func, data, NULL);
  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_set_name (source, "confab-pipewire-wakeup");
  g_source_attach (source, context);
  return source;
}

void
confab_wakeup (GSource *source)
{
  g_source_set_ready_time (source, 0);
}
